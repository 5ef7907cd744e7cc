package resolve

import (
	"reflect"
	"testing"
)

func TestMerge(t *testing.T) {
	proc := []string{"A=proc", "E=", "A=dup"}
	inf := Layer{Keys: []string{"A", "B", "C"}, Values: map[string]string{"A": "inf", "B": "inf", "C": "inf"}}
	dot := Layer{Keys: []string{"C", "D", "E"}, Values: map[string]string{"C": "dot", "D": "dot", "E": "dot"}}
	got := merge(proc, inf, dot)
	want := []string{"A=proc", "E=", "B=inf", "C=inf", "D=dot"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge = %q, want %q", got, want)
	}
}

package dotenv

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"secret-init/contracts"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		keys []string
		want map[string]string
	}{
		{"empty", "", nil, map[string]string{}},
		{"comments and blanks", "# c\n\n   \n  # indented\nA=1\n", []string{"A"}, map[string]string{"A": "1"}},
		{"export prefix", "export A=1\nexport\tB=2\nexportC=3\n", []string{"A", "B", "exportC"}, map[string]string{"A": "1", "B": "2", "exportC": "3"}},
		{"unquoted trimmed", "A=  hello world  \n", []string{"A"}, map[string]string{"A": "hello world"}},
		{"unquoted comment", "A=abc #comment\nB=abc#not\nC=#000\n", []string{"A", "B", "C"}, map[string]string{"A": "abc", "B": "abc#not", "C": "#000"}},
		{"empty value", "A=\nB=''\nC=\"\"\n", []string{"A", "B", "C"}, map[string]string{"A": "", "B": "", "C": ""}},
		{"single quotes literal", `A='x\ny "z" ${B}' # c` + "\n", []string{"A"}, map[string]string{"A": `x\ny "z" ${B}`}},
		{"double quote escapes", `A="a\nb\tc\"d\\e\qf"` + "\n", []string{"A"}, map[string]string{"A": "a\nb\tc\"d\\e\\qf"}},
		{"double quote multiline", "A=\"line1\nline2\"\nB=2\n", []string{"A", "B"}, map[string]string{"A": "line1\nline2", "B": "2"}},
		{"no interpolation", "A=$HOME ${HOME}\n", []string{"A"}, map[string]string{"A": "$HOME ${HOME}"}},
		{"later duplicate wins", "A=1\nB=2\nA=3\n", []string{"A", "B"}, map[string]string{"A": "3", "B": "2"}},
		{"crlf accepted", "A=1\r\nB=\"x\r\ny\"\r\n", []string{"A", "B"}, map[string]string{"A": "1", "B": "x\ny"}},
		{"bom accepted", "\xef\xbb\xbfA=1\n", []string{"A"}, map[string]string{"A": "1"}},
		{"spaces around equals", "A = 1\n", []string{"A"}, map[string]string{"A": "1"}},
		{"equals in value", "A=b=c\n", []string{"A"}, map[string]string{"A": "b=c"}},
		{"no final newline", "A=1", []string{"A"}, map[string]string{"A": "1"}},
		{"underscore and lower", "_a1=x\n", []string{"_a1"}, map[string]string{"_a1": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(".env", []byte(tt.in))
			if err != nil {
				t.Fatalf("ParseDotenv: %v", err)
			}
			if !reflect.DeepEqual(d.Keys, tt.keys) {
				t.Errorf("keys = %q, want %q", d.Keys, tt.keys)
			}
			if !reflect.DeepEqual(d.Values, tt.want) {
				t.Errorf("values = %q, want %q", d.Values, tt.want)
			}
		})
	}
}

// The canary stands for a secret value: errors must name file and line
// and never echo anything of the line.
const canary = "CANARY-s3cr3t-7d41"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
	}{
		{"no equals", "A=1\n" + canary + "\n", 2},
		{"key with space", "MY " + canary + "=x\n", 1},
		{"key with digit first", "1" + canary + "=x\n", 1},
		{"key with dash", "A-" + canary + "=x\n", 1},
		{"empty key", "=" + canary + "\n", 1},
		{"unterminated single", "A=1\nB='" + canary + "\n", 2},
		{"unterminated double", "A=1\n\nB=\"" + canary + "\nmore\n", 3},
		{"text after quote", "A='" + canary + "'x\n", 1},
		{"invalid utf8", "A=1\nB=" + canary + "\xff\xfe\n", 2},
		{"invalid utf8 in quoted continuation", "B=\"" + canary + "\n\xff\"\n", 2},
		{"nul byte", "A=1\nB=2\nC=" + canary + "\x00\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("conf/.env", []byte(tt.in))
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if de.File != "conf/.env" || de.Line != tt.line {
				t.Errorf("at %s:%d, want conf/.env:%d (%v)", de.File, de.Line, tt.line, err)
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error echoes the line: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "conf/.env:") {
				t.Errorf("error does not start with file:line: %v", err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.env")
	if d, err := Read(missing, false); err != nil || len(d.Keys) != 0 {
		t.Errorf("missing default: %v, %v; want empty, nil", d, err)
	}
	if _, err := Read(missing, true); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing explicit: err = %v, want an error naming the file", err)
	}
	if _, err := Read(dir, true); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: err = %v", err)
	}
	big := filepath.Join(dir, "big.env")
	os.WriteFile(big, []byte("A="+strings.Repeat("x", MaxSize)+"\n"), 0o600)
	if _, err := Read(big, true); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big: err = %v", err)
	}
	ok := filepath.Join(dir, "ok.env")
	os.WriteFile(ok, []byte("A=1\n"), 0o600)
	if d, err := Read(ok, true); err != nil || d.Values["A"] != "1" {
		t.Errorf("ok: %v, %v", d, err)
	}
}

func FuzzParseDotenv(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B='x'\n", "C=\"a\\n\nb\"\n", "# c\n\nD=x #y\n", "\xef\xbb\xbfE=1\r\n", "F=\"unterminated\n", "=\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("f.env", data)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Line < 0 {
				t.Fatalf("error of the wrong type: %v", err)
			}
			return
		}
		if len(d.Keys) != len(d.Values) {
			t.Fatalf("%d keys, %d values", len(d.Keys), len(d.Values))
		}
		for _, k := range d.Keys {
			if !contracts.IsVarName(k, false) {
				t.Fatalf("invalid key accepted: %q", k)
			}
			if strings.IndexByte(d.Values[k], 0) >= 0 {
				t.Fatalf("NUL in value of %s", k)
			}
		}
	})
}

package resolve

import (
	"reflect"
	"strings"
	"testing"

	"secret-init/contracts"
	"secret-init/dotenv"
)

// TestPlanOneKeyOneNeed: a key that a transport and a dependency both
// declare is one need, with the folders of both, service ones first, and
// required when any declaration requires it.
func TestPlanOneKeyOneNeed(t *testing.T) {
	src := []contracts.Source{{File: "c.yaml", Line: 1, Field: "f"}}
	tr := func(key, transport string) contracts.Requirement {
		return contracts.Requirement{Key: key, Transport: transport, Required: true, Sources: src}
	}
	dep := func(key string, required bool) contracts.Requirement {
		return contracts.Requirement{Key: key, Transport: contracts.EnvFolder, Required: required, Sources: src}
	}
	tests := []struct {
		name               string
		reqs               []contracts.Requirement
		service            string
		transports         []string
		folders            []string
		required, optional bool
	}{
		{"transport and dependency", []contracts.Requirement{dep("K", true), tr("K", "qdrant")}, "billing",
			[]string{"qdrant", "env"}, []string{"/services/billing/qdrant", "/services/billing/env", "/shared/qdrant", "/shared/env"}, true, false},
		{"transport and optional dependency", []contracts.Requirement{dep("K", false), tr("K", "qdrant")}, "",
			[]string{"qdrant", "env"}, []string{"/shared/qdrant", "/shared/env"}, false, false},
		{"two transports", []contracts.Requirement{tr("K", "qdrant"), tr("K", "http")}, "",
			[]string{"http", "qdrant"}, []string{"/shared/http", "/shared/qdrant"}, false, false},
		{"optional dependency twice", []contracts.Requirement{dep("K", false), dep("K", false)}, "",
			[]string{"env"}, []string{"/shared/env"}, false, true},
		{"a transport alone", []contracts.Requirement{tr("K", "db")}, "s",
			[]string{"db"}, []string{"/services/s/db", "/shared/db"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := buildPlan(&contracts.Set{Requirements: tt.reqs}, contracts.DefaultTransportMap(), tt.service, nil, nil)
			if len(p.Needs) != 1 {
				t.Fatalf("%d needs, want 1: %+v", len(p.Needs), p.Needs)
			}
			n := p.Needs[0]
			if !reflect.DeepEqual(n.Transports, tt.transports) || n.Transport != tt.transports[0] || !reflect.DeepEqual(n.Folders, tt.folders) {
				t.Errorf("transports %v (%s), folders %v; want %v, %v", n.Transports, n.Transport, n.Folders, tt.transports, tt.folders)
			}
			if n.Required != tt.required || n.Optional != tt.optional {
				t.Errorf("required %v optional %v, want %v %v", n.Required, n.Optional, tt.required, tt.optional)
			}
			if len(n.Sources) != len(tt.reqs) {
				t.Errorf("%d sources, want one per declaration", len(n.Sources))
			}
		})
	}
}

// TestTakeOneKey: a key declared twice is found in either folder, counted
// once, and a missing optional key is never refused.
func TestTakeOneKey(t *testing.T) {
	set := &contracts.Set{Requirements: []contracts.Requirement{
		{Key: "QDRANT_URL", Transport: contracts.EnvFolder, Required: true},
		{Key: "QDRANT_URL", Transport: "qdrant", Required: true},
		{Key: "CHANNEL", Transport: contracts.EnvFolder, Required: false},
		{Key: "DB", Transport: "db", Required: true},
	}}
	p := buildPlan(set, contracts.DefaultTransportMap(), "", nil, nil)
	d, _ := dotenv.Parse(".env", []byte("DB=x\n"))
	res := &Result{Origins: map[string]string{}}
	answers := map[string]folderAnswer{"/shared/qdrant": {"QDRANT_URL": {Key: "QDRANT_URL", Value: "u"}}, "/shared/env": {}, "/shared/db": {}}
	if err := res.take(p, answers, nil, d); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"QDRANT_URL": "infisical:/shared/qdrant", "CHANNEL": OriginMissing, "DB": OriginDotenv}
	if !reflect.DeepEqual(res.Origins, want) {
		t.Errorf("origins %v, want %v", res.Origins, want)
	}
	if res.FromInfisical != 1 || res.FromDotenv != 1 || !reflect.DeepEqual(res.Missing, []string{"CHANNEL"}) || len(res.Absent) != 0 {
		t.Errorf("counts: infisical %d dotenv %d missing %v absent %v", res.FromInfisical, res.FromDotenv, res.Missing, res.Absent)
	}
	if !reflect.DeepEqual(res.Refused, []string{"DB"}) {
		t.Errorf("refused by --required: %v, want [DB] (CHANNEL is optional)", res.Refused)
	}
}

func TestCheckService(t *testing.T) {
	for _, ok := range []string{"", "billing", "omnibase-runtime", "svc_2", "A1"} {
		if err := checkService(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"../shared", "a/b", "has space", "what?", "tab\t", "é", ".", "x\n"} {
		err := checkService(bad)
		if err == nil || !strings.Contains(err.Error(), "--service") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line naming --service", bad, err)
		}
	}
}

package resolve

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"secret-init/contracts"
	"secret-init/dotenv"
)

const reportCanary = "CANARY-report-value-5c1d"

// reportOutcome is a resolved start: db and env keys, one bootstrap key,
// with values in every layer that must never be printed.
func reportOutcome(t *testing.T, service string, proc []string) *Outcome {
	t.Helper()
	src := func(line int, field string) []contracts.Source {
		return []contracts.Source{{File: "c/contract.yaml", Line: line, Field: field}}
	}
	set := &contracts.Set{
		Files:      []string{"c/contract.yaml"},
		Transports: []string{"db", "infisical"},
		Requirements: []contracts.Requirement{
			{Key: "POSTGRES_DSN", Transport: "db", Required: true, Sources: src(3, "metadata.transport_type")},
			{Key: "POSTGRES_POOL_MIN", Transport: "db", Required: true, Sources: src(3, "metadata.transport_type")},
			{Key: "API_TOKEN", Transport: contracts.EnvFolder, Required: true, Sources: src(9, "dependencies[0].env_var")},
		},
		Bootstrap: []contracts.Requirement{{Key: "INFISICAL_CLIENT_SECRET", Transport: "infisical", Required: true, Sources: src(6, "handler_routing.handlers[0].handler_type")}},
		Warnings:  []contracts.Warning{{File: "c/contract.yaml", Line: 5, Field: "x", Msg: "unknown transport"}},
	}
	d, err := dotenv.Parse(".env", []byte("POSTGRES_POOL_MIN="+reportCanary+"\nINFISICAL_CLIENT_SECRET="+reportCanary+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &Outcome{
		Dotenv:    d,
		Bootstrap: Bootstrap{Addr: "https://user:" + reportCanary + "@infisical.example", ProjectID: "p1", Environment: "dev"},
		Set:       set,
		Plan:      buildPlan(set, contracts.DefaultTransportMap(), service, nil, proc),
	}
}

func TestPlanReport(t *testing.T) {
	proc := []string{"API_TOKEN=" + reportCanary}
	r := PlanReport(reportOutcome(t, "billing", proc), proc)
	if r.Command != "plan" || r.Service != "billing" || r.Infisical == nil || r.Infisical.Addr != "https://infisical.example" {
		t.Fatalf("header: %+v %+v", r, r.Infisical)
	}
	type row struct{ key, kind, local string }
	var got []row
	for _, k := range r.Keys {
		got = append(got, row{k.Key, k.Kind, k.Local})
	}
	want := []row{
		{"POSTGRES_DSN", KindTransport, LocalNone},
		{"POSTGRES_POOL_MIN", KindTransport, OriginDotenv},
		{"API_TOKEN", KindDependency, OriginEnv},
		{"INFISICAL_CLIENT_SECRET", KindBootstrap, OriginDotenv},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if f := r.Keys[0].Folders; !reflect.DeepEqual(f, []string{"/services/billing/db", "/shared/db"}) {
		t.Errorf("folders = %v", f)
	}
	if !r.Keys[2].Required || r.Keys[0].Required {
		t.Errorf("required: dependency %v, transport %v", r.Keys[2].Required, r.Keys[0].Required)
	}
	// API_TOKEN is in the environment, so its folders are not requested.
	if want := []string{"/services/billing/db", "/shared/db"}; !reflect.DeepEqual(r.Folders, want) {
		t.Errorf("report folders = %v, want %v", r.Folders, want)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "c/contract.yaml:5") {
		t.Errorf("warnings = %v", r.Warnings)
	}

	var a, b, text bytes.Buffer
	r.WriteJSON(&a)
	PlanReport(reportOutcome(t, "billing", proc), proc).WriteJSON(&b)
	if a.String() != b.String() {
		t.Error("the same inputs give different JSON")
	}
	if strings.Contains(a.String(), `"origin"`) || strings.Contains(a.String(), `"summary"`) {
		t.Errorf("plan JSON has check fields:\n%s", a.String())
	}
	r.WriteText(&text)
	for _, out := range []string{a.String(), text.String()} {
		if strings.Contains(out, reportCanary) {
			t.Fatalf("a value reached the report:\n%s", out)
		}
	}
	if !strings.Contains(text.String(), "c/contract.yaml:3") || !strings.Contains(text.String(), "/services/billing/db > /shared/db") {
		t.Errorf("text:\n%s", text.String())
	}
}

func TestCheckReport(t *testing.T) {
	out := reportOutcome(t, "", nil)
	out.Result = &Result{
		Layer:     Layer{Keys: []string{"POSTGRES_DSN", "EXTRA"}, Values: map[string]string{"POSTGRES_DSN": reportCanary, "EXTRA": reportCanary}},
		Origins:   map[string]string{"POSTGRES_DSN": "infisical:/shared/db", "POSTGRES_POOL_MIN": OriginDotenv, "API_TOKEN": OriginMissing, "EXTRA": "infisical:/team"},
		Missing:   []string{"POSTGRES_POOL_MIN", "API_TOKEN"},
		Absent:    []string{"API_TOKEN"},
		Requests:  3,
		FolderErr: map[string]error{"/shared/env": errors.New("status 403")},
	}
	r := CheckReport(out, nil, errors.New("required dependencies set nowhere: API_TOKEN"))
	s := r.Summary
	if s.OK || !strings.Contains(s.Error, "API_TOKEN") {
		t.Errorf("verdict: %+v", s)
	}
	// Every declared row counts once (bootstrap and --path keys are tables
	// of their own), in the words of the ORIGIN column.
	if s.Declared != 3 || s.Infisical != 1 || s.Dotenv != 1 || s.Missing != 1 || s.Env != 0 || s.Requests != 3 {
		t.Errorf("counts: %+v", s)
	}
	if !reflect.DeepEqual(s.MissingKeys, []string{"API_TOKEN"}) || !reflect.DeepEqual(s.DotenvKeys, []string{"POSTGRES_POOL_MIN"}) {
		t.Errorf("missing_keys = %v, dotenv_keys = %v", s.MissingKeys, s.DotenvKeys)
	}
	// --required refuses the .env-only and the missing key, not the bootstrap key.
	if !reflect.DeepEqual(s.Refused, []string{"API_TOKEN", "POSTGRES_POOL_MIN"}) {
		t.Errorf("refused_by_required = %v", s.Refused)
	}
	if s.FolderErrors["/shared/env"] != "status 403" {
		t.Errorf("folder_errors = %v", s.FolderErrors)
	}
	origins := map[string]string{}
	for _, k := range r.Keys {
		origins[k.Key+"/"+k.Kind] = k.Origin
	}
	want := map[string]string{
		"POSTGRES_DSN/transport": "infisical:/shared/db", "POSTGRES_POOL_MIN/transport": OriginDotenv,
		"API_TOKEN/dependency": OriginMissing, "EXTRA/path": "infisical:/team", "INFISICAL_CLIENT_SECRET/bootstrap": OriginDotenv,
	}
	if !reflect.DeepEqual(origins, want) {
		t.Errorf("origins = %v, want %v", origins, want)
	}
	var j, text bytes.Buffer
	r.WriteJSON(&j)
	r.WriteText(&text)
	for _, o := range []string{j.String(), text.String()} {
		if strings.Contains(o, reportCanary) {
			t.Fatalf("a value reached the report:\n%s", o)
		}
	}
	wantText := []string{
		"Declared keys (3):\n",
		"Keys of --path folders, taken whole (1):\n",
		"Bootstrap keys, from the environment or .env only, never fetched (1):\n",
		"Summary: 3 declared key(s): 0 from env, 1 from Infisical, 1 from .env, 1 missing; 3 request(s)\n",
		"Missing (set nowhere): API_TOKEN\n",
		"With --required a start stops on (in neither the environment nor Infisical): API_TOKEN (missing), POSTGRES_POOL_MIN (from .env)\n",
		"Result: a start would fail: required dependencies",
	}
	for _, w := range wantText {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, text.String())
		}
	}

	// Without a result (passthrough, or no credentials): origins come
	// from the environment and .env alone.
	proc := []string{"API_TOKEN=x"}
	r = CheckReport(reportOutcome(t, "", proc), proc, nil)
	if !r.Summary.OK || r.Summary.Env != 1 || r.Summary.Dotenv != 1 || r.Summary.Missing != 1 {
		t.Errorf("offline summary: %+v", r.Summary)
	}
}

func TestSafeAddr(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":               "http://127.0.0.1:8080",
		"https://u:pw@infisical.example/api/": "https://infisical.example/api/",
		"http://[::1":                         "(unparsable INFISICAL_ADDR)",
		"https://h.example/?token=CANARY#x":   "https://h.example/",
		"sk_live_CANARY":                      "(unparsable INFISICAL_ADDR)",
	} {
		if got := safeAddr(in); got != want {
			t.Errorf("safeAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReportJSONFieldNames(t *testing.T) {
	var m map[string]any
	data, _ := json.Marshal(CheckReport(reportOutcome(t, "", nil), nil, nil))
	json.Unmarshal(data, &m)
	for _, f := range []string{"command", "service", "passthrough", "infisical", "contract_files", "keys", "folders", "paths", "warnings", "summary", "drop_bootstrap"} {
		if _, ok := m[f]; !ok {
			t.Errorf("no %q in %s", f, data)
		}
	}
	k := m["keys"].([]any)[0].(map[string]any)
	for _, f := range []string{"key", "transport", "kind", "required", "sources", "folders", "local", "origin"} {
		if _, ok := k[f]; !ok {
			t.Errorf("key has no %q: %v", f, k)
		}
	}
}

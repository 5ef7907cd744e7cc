package resolve

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"secret-init/contracts"
	"secret-init/dotenv"
)

// Report is what `plan` and `check` print: every declared key, who asks
// for it, where a start looks for it and (check) where its value came
// from. It holds names and folders only, never a value, so that it can go
// to a CI log as it is.
//
// The JSON field names are part of the interface (README, "plan and
// check"); keys are sorted by kind (fetched keys, then --path keys, then
// bootstrap keys), transport and name, so that two runs on the same
// inputs print the same bytes.
type Report struct {
	Command     string        `json:"command"`     // "plan" or "check"
	Service     string        `json:"service"`     // --service; "" means shared folders only
	Passthrough bool          `json:"passthrough"` // INFISICAL_ADDR unset: a start reads no contract and asks nothing
	Infisical   *InfisicalRef `json:"infisical"`   // null in passthrough
	Files       []string      `json:"contract_files"`
	Keys        []KeyReport   `json:"keys"`
	Folders     []string      `json:"folders"` // folders a start requests, sorted
	Paths       []string      `json:"paths"`   // --path folders, taken whole
	Warnings    []string      `json:"warnings"`
	Summary     *CheckSummary `json:"summary,omitempty"` // check only
	// Fallback is check's word on --fallback-file; absent when not set.
	Fallback *FallbackReport `json:"fallback,omitempty"`

	// DropBootstrap: --drop-bootstrap keeps the Credentials from the command.
	DropBootstrap bool `json:"drop_bootstrap"`
}

// InfisicalRef says which Infisical a start talks to; no credential.
type InfisicalRef struct {
	Addr        string `json:"addr"`
	ProjectID   string `json:"project_id"`
	Environment string `json:"environment"`
}

// Kinds of a reported key.
const (
	KindTransport  = "transport"  // a key of a transport the contracts name
	KindDependency = "dependency" // an explicit dependencies[] variable
	KindBootstrap  = "bootstrap"  // read from the environment and .env only, never fetched
	KindPath       = "path"       // found in a --path folder (check only)
)

// Local says whether the environment or .env holds a key before Infisical
// is asked; LocalNone in JSON, "-" in the table.
const LocalNone = "none"

// KeyReport is one declared key: one row however many declarations name it.
type KeyReport struct {
	Key        string      `json:"key"`
	Transport  string      `json:"transport"`  // canonical transport; "env" for a dependency; the folder for a --path key
	Transports []string    `json:"transports"` // every transport that declares it, "env" last; [transport] for the others
	Kind       string      `json:"kind"`       // transport when any transport declares it
	Required   bool        `json:"required"`   // a dependency marked required: a start fails when no source has it
	Optional   bool        `json:"optional"`   // only optional dependencies: never stops a start, not even with --required
	Sources    []SourceRef `json:"sources"`
	Folders    []string    `json:"folders"` // in priority order; empty for bootstrap keys
	Local      string      `json:"local"`   // "env", "dotenv" or "none"
	Origin     string      `json:"origin,omitempty"`
}

// SourceRef is one contract place that declares a key.
type SourceRef struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Field string `json:"field"`
}

// CheckSummary is check's verdict.
type CheckSummary struct {
	OK           bool              `json:"ok"`       // a start under the same flags would succeed
	Error        string            `json:"error"`    // why it would fail; "" when OK
	Declared     int               `json:"declared"` // keys of kind transport or dependency, each counted once in env, infisical, dotenv or missing
	Env          int               `json:"env"`
	Infisical    int               `json:"infisical"`
	Dotenv       int               `json:"dotenv"`
	Fallback     int               `json:"fallback"`
	Missing      int               `json:"missing"`
	MissingKeys  []string          `json:"missing_keys"`        // set nowhere: one per count in missing
	DotenvKeys   []string          `json:"dotenv_keys"`         // only .env has them: one per count in dotenv
	Refused      []string          `json:"refused_by_required"` // what a start with --required stops on: not optional, in neither the environment nor Infisical
	InfisicalErr string            `json:"infisical_error"`     // unreachable or login refused; "" when it answered
	FolderErrors map[string]string `json:"folder_errors"`       // folders that failed alone (403, ...)
	Requests     int64             `json:"requests"`
}

// FallbackReport says whether a start under the same flags could use the
// fallback file, and how old its values are.
type FallbackReport struct {
	File          string     `json:"file"`
	Usable        bool       `json:"usable"` // decrypts, matches these flags, younger than max_age_seconds
	InUse         bool       `json:"in_use"` // Infisical could not answer: this check took its values
	FetchedAt     *time.Time `json:"fetched_at,omitempty"`
	AgeSeconds    *int64     `json:"age_seconds,omitempty"`
	MaxAgeSeconds int64      `json:"max_age_seconds"`
	Problem       string     `json:"problem,omitempty"` // why not usable
}

// fallbackReport is what check says of f.
func fallbackReport(f *Fallback, res *Result) *FallbackReport {
	if f == nil {
		return nil
	}
	fr := &FallbackReport{File: f.Path, MaxAgeSeconds: int64(f.MaxAge / time.Second), Problem: f.Off}
	if res != nil && res.Fallback != nil {
		fr.InUse = true
	}
	switch st := f.Found; {
	case f.Off != "":
	case st == nil:
		fr.Problem = "not read: the start stopped before Infisical was asked"
	default:
		fr.Usable, fr.Problem = st.Usable, st.Problem
		if !st.FetchedAt.IsZero() {
			at, age := st.FetchedAt.UTC(), int64(st.Age/time.Second)
			fr.FetchedAt, fr.AgeSeconds = &at, &age
		}
	}
	return fr
}

// PlanReport describes what a start would do, from the outcome of
// ReadInputs and ReadContracts alone: no network.
func PlanReport(out *Outcome, proc []string) *Report {
	return baseReport("plan", out, proc)
}

// CheckReport describes what a start did: out and err are what its steps
// gave (in passthrough, with the contracts read all the same).
func CheckReport(out *Outcome, proc []string, err error) *Report {
	r := baseReport("check", out, proc)
	s := &CheckSummary{OK: err == nil, MissingKeys: []string{}, DotenvKeys: []string{}, Refused: []string{}, FolderErrors: map[string]string{}}
	if err != nil {
		s.Error = err.Error()
	}
	var res *Result
	if out != nil {
		res = out.Result
	}
	if res != nil {
		s.Requests = res.Requests
		if res.Failed != nil {
			s.InfisicalErr = res.Failed.Error()
		}
		for f, e := range res.FolderErr {
			s.FolderErrors[f] = e.Error()
		}
		for k, o := range res.Origins {
			if _, declared := r.index(k); !declared && strings.HasPrefix(o, "infisical:") {
				folder := strings.TrimPrefix(o, "infisical:")
				r.Keys = append(r.Keys, KeyReport{Key: k, Transport: folder, Transports: []string{folder}, Kind: KindPath, Sources: []SourceRef{}, Folders: []string{folder}, Local: LocalNone, Origin: o})
			}
		}
		sortKeys(r.Keys)
	}
	// The counts and the lists come from the rows themselves, so that they
	// cannot disagree with the table above them.
	for i := range r.Keys {
		k := &r.Keys[i]
		k.Origin = localOrigin(k.Local)
		if o := res.origin(k.Key); k.Kind != KindBootstrap && o != "" {
			k.Origin = o
		}
		if k.Kind == KindBootstrap && r.DropBootstrap && k.Local != LocalNone && slices.Contains(Credentials, k.Key) {
			k.Origin = OriginDropped
		}
		if k.Kind == KindPath || k.Kind == KindBootstrap {
			continue // not in the declared table: never taken for the command
		}
		s.Declared++
		switch {
		case k.Origin == OriginEnv:
			s.Env++
		case k.Origin == OriginDotenv:
			s.Dotenv++
			s.DotenvKeys = append(s.DotenvKeys, k.Key)
		case k.Origin == OriginMissing:
			s.Missing++
			s.MissingKeys = append(s.MissingKeys, k.Key)
		case k.Origin == OriginFallback:
			s.Fallback++
		default:
			s.Infisical++
		}
		if refusedByRequired(k.Optional, k.Origin) {
			s.Refused = append(s.Refused, k.Key)
		}
	}
	slices.Sort(s.MissingKeys)
	slices.Sort(s.DotenvKeys)
	slices.Sort(s.Refused)
	r.Summary = s
	if out != nil {
		r.Fallback = fallbackReport(out.Fallback, res)
	}
	return r
}

// origin is where a start took key from; "" without a result.
func (res *Result) origin(key string) string {
	if res == nil {
		return ""
	}
	return res.Origins[key]
}

func localOrigin(local string) string {
	if local == LocalNone {
		return OriginMissing
	}
	return local
}

func (r *Report) index(key string) (int, bool) {
	for i, k := range r.Keys {
		if k.Key == key {
			return i, true
		}
	}
	return 0, false
}

// baseReport fills what plan and check share.
func baseReport(cmd string, out *Outcome, proc []string) *Report {
	r := &Report{Command: cmd, Files: []string{}, Keys: []KeyReport{}, Folders: []string{}, Paths: []string{}, Warnings: []string{}}
	if out == nil {
		return r
	}
	r.Passthrough = out.Passthrough
	r.DropBootstrap = out.DropBootstrap
	if !out.Passthrough {
		r.Infisical = out.Bootstrap.Ref()
	}
	if out.Set != nil {
		r.Files = append(r.Files, out.Set.Files...)
		for _, w := range out.Set.Warnings {
			r.Warnings = append(r.Warnings, w.Error())
		}
	}
	if p := out.Plan; p != nil {
		r.Service = p.Service
		r.Folders = append(r.Folders, p.Folders...)
		r.Paths = append(r.Paths, p.Paths...)
		for _, n := range p.Needs {
			k := KeyReport{
				Key: n.Key, Transport: n.Transport, Transports: append([]string{}, n.Transports...), Kind: KindTransport,
				Required: n.Required, Optional: n.Optional,
				Sources: sourceRefs(n.Sources), Folders: append([]string{}, n.Folders...), Local: LocalNone,
			}
			if n.Transport == contracts.EnvFolder {
				k.Kind = KindDependency
			}
			switch {
			case n.InEnv:
				k.Local = OriginEnv
			case out.Dotenv != nil && hasKey(out.Dotenv, n.Key):
				k.Local = OriginDotenv
			}
			r.Keys = append(r.Keys, k)
		}
	}
	if out.Set != nil {
		for _, b := range out.Set.Bootstrap {
			k := KeyReport{Key: b.Key, Transport: b.Transport, Transports: []string{b.Transport}, Kind: KindBootstrap, Sources: sourceRefs(b.Sources), Folders: []string{}, Local: LocalNone}
			if _, ok := LookupEnv(proc, b.Key); ok {
				k.Local = OriginEnv
			} else if out.Dotenv != nil && hasKey(out.Dotenv, b.Key) {
				k.Local = OriginDotenv
			}
			r.Keys = append(r.Keys, k)
		}
	}
	sortKeys(r.Keys)
	return r
}

func hasKey(d *dotenv.File, k string) bool {
	_, ok := d.Values[k]
	return ok
}

func sourceRefs(src []contracts.Source) []SourceRef {
	out := make([]SourceRef, 0, len(src))
	for _, s := range src {
		out = append(out, SourceRef{File: s.File, Line: s.Line, Field: s.Field})
	}
	slices.SortFunc(out, func(a, b SourceRef) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), strings.Compare(a.Field, b.Field))
	})
	return slices.Compact(out)
}

var kindRank = map[string]int{KindTransport: 0, KindDependency: 0, KindPath: 1, KindBootstrap: 2}

func sortKeys(keys []KeyReport) {
	slices.SortStableFunc(keys, func(a, b KeyReport) int {
		return cmp.Or(cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]), strings.Compare(a.Transport, b.Transport), strings.Compare(a.Key, b.Key))
	})
}

// safeAddr keeps of an address only where it points (scheme, host, path)
// for printing.
func safeAddr(addr string) string {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return "(unparsable INFISICAL_ADDR)"
	}
	// Only where it points: user info and a query may hold credentials.
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as tables for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	switch {
	case r.Passthrough:
		b.WriteString("Infisical: none (INFISICAL_ADDR not set: a start reads no contract and asks nothing)\n")
	case r.Infisical != nil:
		fmt.Fprintf(&b, "Infisical: %s, project %s, environment %s\n", r.Infisical.Addr, r.Infisical.ProjectID, r.Infisical.Environment)
	}
	if r.DropBootstrap {
		fmt.Fprintf(&b, "Credentials: %s are not passed to the command (--drop-bootstrap)\n", strings.Join(Credentials, ", "))
	}
	svc := r.Service
	if svc == "" {
		svc = "(none: shared folders only)"
	}
	fmt.Fprintf(&b, "Service: %s\nContracts: %d file(s)\n\n", svc, len(r.Files))

	var declared, path, boot []KeyReport
	for _, k := range r.Keys {
		switch k.Kind {
		case KindPath:
			path = append(path, k)
		case KindBootstrap:
			boot = append(boot, k)
		default:
			declared = append(declared, k)
		}
	}
	fmt.Fprintf(&b, "Declared keys (%d):\n", len(declared))
	r.writeKeys(&b, declared)
	if len(declared) > 0 {
		b.WriteString("REQUIRED yes: a start fails when no source has it; with --required: a start with --required\n" +
			"fails unless the environment or Infisical has it; no: never stops a start (required: false,\n" +
			"or a dependency with name: and no env_var:).\n")
	}
	if len(path) > 0 {
		fmt.Fprintf(&b, "\nKeys of --path folders, taken whole (%d):\n", len(path))
		r.writeKeys(&b, path)
	}
	if len(boot) > 0 {
		fmt.Fprintf(&b, "\nBootstrap keys, from the environment or .env only, never fetched (%d):\n", len(boot))
		r.writeKeys(&b, boot)
	}

	if r.Command == "plan" {
		if r.Passthrough {
			fmt.Fprintf(&b, "\nFolders a start would request once INFISICAL_ADDR is set (%d):\n", len(r.Folders))
		} else {
			fmt.Fprintf(&b, "\nFolders a start would request (%d):\n", len(r.Folders))
		}
		for _, f := range r.Folders {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\nContract warnings (%d):\n", len(r.Warnings))
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	if s := r.Summary; s != nil {
		fromFallback := ""
		if s.Fallback > 0 {
			fromFallback = fmt.Sprintf(", %d from the fallback file", s.Fallback)
		}
		fmt.Fprintf(&b, "\nSummary: %d declared key(s): %d from env, %d from Infisical%s, %d from .env, %d missing; %d request(s)\n",
			s.Declared, s.Env, s.Infisical, fromFallback, s.Dotenv, s.Missing, s.Requests)
		if len(s.MissingKeys) > 0 {
			fmt.Fprintf(&b, "Missing (set nowhere): %s\n", strings.Join(s.MissingKeys, ", "))
		}
		if len(s.Refused) > 0 {
			origin := func(key string) string { i, _ := r.index(key); return r.Keys[i].Origin }
			fmt.Fprintf(&b, "With --required a start stops on (in neither the environment nor Infisical): %s\n", describeKeys(s.Refused, origin))
		}
		if s.InfisicalErr != "" {
			fmt.Fprintf(&b, "Infisical failed: %s\n", s.InfisicalErr)
		}
		if f := r.Fallback; f != nil {
			b.WriteString(f.text())
		}
		folders := make([]string, 0, len(s.FolderErrors))
		for f := range s.FolderErrors {
			folders = append(folders, f)
		}
		slices.Sort(folders)
		for _, f := range folders {
			fmt.Fprintf(&b, "Folder %s failed: %s\n", f, s.FolderErrors[f])
		}
		if s.OK {
			b.WriteString("Result: a start would succeed\n")
		} else {
			fmt.Fprintf(&b, "Result: a start would fail: %s\n", s.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeKeys writes one table of keys: for check where each came from, for
// plan where a start would look.
func (r *Report) writeKeys(b *strings.Builder, keys []KeyReport) {
	if len(keys) == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	if r.Command == "check" {
		fmt.Fprintln(tw, "KEY\tTRANSPORT\tREQUIRED\tORIGIN")
	} else {
		fmt.Fprintln(tw, "KEY\tTRANSPORT\tREQUIRED\tLOCAL\tFOLDERS\tCONTRACTS")
	}
	for _, k := range keys {
		req := requiredText(k)
		transport := strings.Join(k.Transports, ",")
		if k.Kind == KindPath {
			transport = "--path"
		}
		if r.Command == "check" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Key, transport, req, k.Origin)
			continue
		}
		local := k.Local
		if local == LocalNone {
			local = "-"
		}
		folders := strings.Join(k.Folders, " > ")
		if k.Kind == KindBootstrap {
			folders = "(never fetched)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Key, transport, req, local, folders, sourceText(k.Sources))
	}
	tw.Flush()
}

// requiredText is the REQUIRED column: what a key being set nowhere does
// to a start.
func requiredText(k KeyReport) string {
	switch {
	case k.Kind == KindBootstrap:
		return "bootstrap"
	case k.Required:
		return "yes"
	case k.Optional && nameOnly(k.Sources):
		return "no (name only)" // a dependency with name: and no env_var:
	case k.Optional:
		return "no"
	case k.Kind == KindPath:
		return "no"
	}
	return "with --required"
}

// nameOnly reports whether every declaration is a dependency written with
// name: and no env_var:.
func nameOnly(src []SourceRef) bool {
	for _, s := range src {
		if !strings.HasSuffix(s.Field, contracts.NameOnlyField) {
			return false
		}
	}
	return len(src) > 0
}

// text is the fallback file's line of check's text output.
func (f *FallbackReport) text() string {
	var age string
	if f.AgeSeconds != nil {
		age = fmt.Sprintf(", values fetched %s ago (%s)", time.Duration(*f.AgeSeconds)*time.Second, f.FetchedAt.Format(time.RFC3339))
	}
	switch {
	case f.InUse:
		return fmt.Sprintf("Fallback file %s: in use, Infisical could not answer%s\n", f.File, age)
	case f.Usable:
		return fmt.Sprintf("Fallback file %s: usable%s, max %s\n", f.File, age, time.Duration(f.MaxAgeSeconds)*time.Second)
	}
	return fmt.Sprintf("Fallback file %s: not usable: %s\n", f.File, f.Problem)
}

// sourceText renders sources as file:line, comma-separated.
func sourceText(src []SourceRef) string {
	parts := make([]string, 0, len(src))
	seen := make(map[string]struct{}, len(src))
	for _, s := range src {
		p := s.File
		if s.Line > 0 {
			p += ":" + strconv.Itoa(s.Line)
		}
		if _, dup := seen[p]; !dup {
			seen[p] = struct{}{}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

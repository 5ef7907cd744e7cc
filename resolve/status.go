package resolve

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"secret-init/atomicfile"
)

// StatusDoc is the --status-file: where every key's value came from and
// how fresh it is, for readiness probes and operators. It never holds a
// value. The JSON names are part of the interface (README, "Outages").
type StatusDoc struct {
	Schema      int           `json:"schema"` // 1; a change that breaks readers makes it 2
	UpdatedAt   time.Time     `json:"updated_at"`
	Passthrough bool          `json:"passthrough"`
	Infisical   *InfisicalRef `json:"infisical"` // null in passthrough
	Service     string        `json:"service"`
	// LastSuccessAt is when the values in use were last fetched complete
	// from Infisical (every planned folder answered): by this process, or,
	// for the fallback file's values, by the one that wrote it; null when
	// none were.
	LastSuccessAt *time.Time        `json:"last_success_at"`
	Fallback      StatusFallback    `json:"fallback"`
	Keys          []StatusKey       `json:"keys"`
	Watch         WatchCounters     `json:"watch"`
	LastError     *string           `json:"last_error"`    // what stopped the start, else why Infisical failed; null when nothing did
	FolderErrors  map[string]string `json:"folder_errors"` // folders that failed alone (403, ...)
}

// StatusFallback is the fallback file's part of the status.
type StatusFallback struct {
	Enabled    bool       `json:"enabled"` // --fallback-file is set and has a key
	File       string     `json:"file,omitempty"`
	InUse      bool       `json:"in_use"`                // the command's values are the file's
	AgeSeconds *int64     `json:"age_seconds,omitempty"` // when in use: whole seconds since they were fetched
	FetchedAt  *time.Time `json:"fetched_at,omitempty"`  // when in use: when they were fetched
	Problem    string     `json:"problem,omitempty"`     // why it is off, or why the file was not used
}

// StatusKey is one key the command gets (or lacks).
type StatusKey struct {
	Key     string `json:"key"`
	Origin  string `json:"origin"`            // env, infisical:<folder>, fallback, dotenv, missing
	Folder  string `json:"folder,omitempty"`  // the Infisical folder the value came from (also for fallback)
	Version int    `json:"version,omitempty"` // Infisical's version of the secret, when known
}

// WatchCounters count what the watch did since the start: polls sent,
// answered 304 Not Modified, that found a change, and restarts of the
// command that a change caused. Zero without --watch.
type WatchCounters struct {
	Polls       int64 `json:"polls"`
	NotModified int64 `json:"not_modified"`
	Changes     int64 `json:"changes"`
	Restarts    int64 `json:"restarts"`
}

// Status is the --status-file of a run. Update rewrites it, atomically:
// after the start, and after each poll of the watch.
type Status struct {
	Path  string
	Watch WatchCounters // the watch counts here; Update writes them
	// lastSuccess is the last complete fetch seen, kept across results.
	lastSuccess time.Time
}

// Update rewrites the status file from out (nil when the start stopped
// before it had one) and startErr, what stopped the start (nil when it
// did not). A write that fails, or does not finish within timeout, is a
// warning.
func (s *Status) Update(out *Outcome, startErr error, timeout time.Duration, log zerolog.Logger) {
	if s == nil || s.Path == "" {
		return
	}
	doc := s.document(out, startErr, time.Now())
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		log.Warn().Str("file", s.Path).Msg("--status-file " + s.Path + ": " + err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := atomicfile.Write(ctx, s.Path, append(data, '\n'), 0o644); err != nil {
		log.Warn().Str("file", s.Path).Msg("--status-file " + s.Path + ": not written: " + err.Error())
	}
}

// document builds the status at now.
func (s *Status) document(out *Outcome, startErr error, now time.Time) *StatusDoc {
	doc := &StatusDoc{Schema: 1, UpdatedAt: now.UTC(), Keys: []StatusKey{}, Watch: s.Watch, FolderErrors: map[string]string{}}
	if startErr != nil {
		msg := startErr.Error()
		doc.LastError = &msg
	}
	if out == nil {
		return doc
	}
	doc.Passthrough = out.Passthrough
	if !out.Passthrough {
		doc.Infisical = out.Bootstrap.Ref()
	}
	if out.Plan != nil {
		doc.Service = out.Plan.Service
	}
	res := out.Result
	switch {
	case res == nil:
	case res.Complete && res.FetchedAt.After(s.lastSuccess):
		s.lastSuccess = res.FetchedAt
	case res.Fallback != nil && res.Fallback.FetchedAt.After(s.lastSuccess):
		s.lastSuccess = res.Fallback.FetchedAt
	}
	if !s.lastSuccess.IsZero() {
		t := s.lastSuccess.UTC()
		doc.LastSuccessAt = &t
	}
	doc.Fallback = statusFallback(out.Fallback, res, now)
	if res == nil {
		return doc
	}
	if res.Failed != nil && doc.LastError == nil {
		msg := res.Failed.Error()
		doc.LastError = &msg
	}
	for f, err := range res.FolderErr {
		doc.FolderErrors[f] = err.Error()
	}
	keys := make([]string, 0, len(res.Origins))
	for k := range res.Origins {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sk := StatusKey{Key: k, Origin: res.Origins[k]}
		if from, ok := res.From[k]; ok && sk.Origin != OriginEnv && sk.Origin != OriginDotenv && sk.Origin != OriginMissing {
			sk.Folder, sk.Version = from.Folder, from.Version
		}
		doc.Keys = append(doc.Keys, sk)
	}
	return doc
}

func statusFallback(f *Fallback, res *Result, now time.Time) StatusFallback {
	var sf StatusFallback
	if f == nil {
		return sf
	}
	sf.File, sf.Enabled, sf.Problem = f.Path, f.Off == "", f.Off
	if f.Found != nil && !f.Found.Usable {
		sf.Problem = f.Found.Problem
	}
	if res != nil && res.Fallback != nil {
		sf.InUse = true
		age := int64(res.Fallback.Age(now) / time.Second)
		at := res.Fallback.FetchedAt.UTC()
		sf.AgeSeconds, sf.FetchedAt = &age, &at
	}
	return sf
}

// Package resolve builds the environment the service starts with: it reads
// the .env bootstrap file, works out which Infisical folders the contracts
// need, fetches them, and merges every source with env-first priority.
package resolve

import "strings"

// Merge returns the child's environment: every entry of proc (the process
// environment) as it is, then each layer's keys that no earlier source has
// set, layers in priority order (Infisical, then .env). A key present in
// proc with an empty value counts as set: an operator's explicit empty
// override must win.
func Merge(proc []string, layers ...Layer) []string {
	seen := make(map[string]struct{}, len(proc))
	out := make([]string, 0, len(proc)+16)
	for _, kv := range proc {
		k, _, _ := strings.Cut(kv, "=")
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, kv)
	}
	for _, l := range layers {
		for _, k := range l.Keys {
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, k+"="+l.Values[k])
		}
	}
	return out
}

// Layer is one source of variables with its keys in a stable order.
type Layer struct {
	Keys   []string
	Values map[string]string
}

// Layer returns the .env file as a merge layer.
func (d *Dotenv) Layer() Layer { return Layer{Keys: d.Keys, Values: d.Values} }

// LookupEnv finds key in a KEY=VALUE list.
func LookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:], true
		}
	}
	return "", false
}

// Lookup finds key in the process environment first, then in .env: the
// order in which bootstrap settings are read.
func Lookup(proc []string, d *Dotenv, key string) (string, bool) {
	if v, ok := LookupEnv(proc, key); ok {
		return v, true
	}
	v, ok := d.Values[key]
	return v, ok
}

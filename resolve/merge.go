package resolve

import (
	"strings"

	"secret-init/dotenv"
)

// merge returns the child's environment: every entry of proc (the process
// environment) as it is, then each layer's keys that no earlier source has
// set, layers in priority order (Infisical, then .env). A key present in
// proc with an empty value counts as set: an operator's explicit empty
// override must win.
func merge(proc []string, layers ...Layer) []string {
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

// LookupEnv finds key in a KEY=VALUE list.
func LookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:], true
		}
	}
	return "", false
}

// lookup finds key in the process environment first, then in .env: the
// order in which bootstrap settings are read.
func lookup(proc []string, d *dotenv.File, key string) (string, bool) {
	if v, ok := LookupEnv(proc, key); ok {
		return v, true
	}
	v, ok := d.Values[key]
	return v, ok
}

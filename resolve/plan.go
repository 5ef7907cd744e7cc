package resolve

import (
	"path"
	"sort"
	"strings"

	"secret-init/contracts"
)

// Need is one declared key and where Infisical may hold it.
type Need struct {
	Key       string
	Transport string   // canonical transport, or "env" for an explicit dependency
	Required  bool     // an explicit dependency marked required: true (transports: false)
	Folders   []string // in priority order: the service folder, then the shared one
	Sources   []contracts.Source
	InEnv     bool // already set in the process environment: never fetched
}

// Plan says what a start would fetch: every declared key and the folders
// to list, each once, in one parallel round.
type Plan struct {
	Service string
	Needs   []Need
	Folders []string // folders to request, sorted
	Paths   []string // --path folders: every secret in them is taken
}

// foldersFor returns the folders that may hold a key of transport, in
// priority order: /services/<slug>/<transport> overrides
// /shared/<transport>; with no slug only the shared folder.
func foldersFor(service, transport string) []string {
	shared := "/shared/" + transport
	if service == "" {
		return []string{shared}
	}
	return []string{"/services/" + service + "/" + transport, shared}
}

// buildPlan turns the contracts' requirements into a fetch plan. A key
// already set in the process environment is not fetched, and a folder
// whose keys are all set is not requested. Keys of bootstrap transports
// never reach the plan.
func buildPlan(set *contracts.Set, m *contracts.TransportMap, service string, paths []string, proc []string) *Plan {
	p := &Plan{Service: service}
	folders := map[string]struct{}{}
	if set != nil {
		index := map[string]int{} // transport+key -> position in Needs
		for _, r := range set.Requirements {
			if r.Transport != contracts.EnvFolder && m != nil && m.IsBootstrap(r.Transport) {
				continue
			}
			id := r.Transport + "\x00" + r.Key
			if i, ok := index[id]; ok {
				p.Needs[i].Required = p.Needs[i].Required || (r.Transport == contracts.EnvFolder && r.Required)
				p.Needs[i].Sources = append(p.Needs[i].Sources, r.Sources...)
				continue
			}
			_, inEnv := LookupEnv(proc, r.Key)
			n := Need{
				Key:       r.Key,
				Transport: r.Transport,
				Required:  r.Transport == contracts.EnvFolder && r.Required,
				Folders:   foldersFor(service, r.Transport),
				Sources:   append([]contracts.Source(nil), r.Sources...),
				InEnv:     inEnv,
			}
			index[id] = len(p.Needs)
			p.Needs = append(p.Needs, n)
			if !inEnv {
				for _, f := range n.Folders {
					folders[f] = struct{}{}
				}
			}
		}
	}
	for _, f := range paths {
		f = CleanFolder(f)
		p.Paths = append(p.Paths, f)
		folders[f] = struct{}{}
	}
	for f := range folders {
		p.Folders = append(p.Folders, f)
	}
	sort.Strings(p.Folders)
	return p
}

// CleanFolder normalises an Infisical folder path: leading slash, no
// trailing slash, no empty or dot segments.
func CleanFolder(f string) string {
	f = path.Clean("/" + strings.TrimSpace(f))
	return f
}

package resolve

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"secret-init/contracts"
)

// Need is one declared key and where Infisical may hold it. A key is one
// key however many declarations name it: a transport and a dependency
// (metadata.transport_type: QDRANT and a dependency on QDRANT_URL) give
// one Need, with the folders of both.
type Need struct {
	Key        string
	Transport  string   // the first of Transports
	Transports []string // every transport that declares the key, sorted, "env" (a dependency) last
	// Required: a dependency marks it required: true, so a start fails
	// when no source has it, with or without --required.
	Required bool
	// Optional: every declaration is a dependency marked required: false
	// (or written with name: alone), so it never stops a start, not even
	// with --required. A key that is neither Required nor Optional (a
	// transport's) stops a start only with --required.
	Optional bool
	Folders  []string // in priority order, see foldersFor
	Sources  []contracts.Source
	InEnv    bool // already set in the process environment: never fetched
}

// Plan says what a start would fetch: every declared key and the folders
// to list, each once, in one parallel round.
type Plan struct {
	Service string
	Needs   []Need
	Folders []string // folders to request, sorted
	Paths   []string // --path folders: every secret in them is taken
}

// foldersFor returns the folders that may hold a key declared by
// transports, in priority order: every /services/<slug>/<transport>
// before any /shared/<transport> (a per-service value overrides a shared
// one, key by key), and within each, the transports in their order (a
// transport's own folder before env, which is where seed writes a key
// that a transport declares too). With no slug only the shared folders.
func foldersFor(service string, transports []string) []string {
	var out []string
	if service != "" {
		for _, t := range transports {
			out = append(out, "/services/"+service+"/"+t)
		}
	}
	for _, t := range transports {
		out = append(out, "/shared/"+t)
	}
	return out
}

// checkService accepts a --service slug that Infisical takes as a folder
// name: letters, digits, '-' and '_' (Infisical answers 422 to any other
// folder name). Anything else would build another path: ../shared, a/b.
func checkService(slug string) error {
	for _, c := range slug {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("--service %s: want an Infisical folder name (letters, digits, '-' and '_')", strconv.Quote(contracts.Clip(slug, 64)))
		}
	}
	return nil
}

// transportOrder sorts transports by name, with env, the dependencies'
// folder, last.
func transportOrder(a, b string) int {
	if (a == contracts.EnvFolder) != (b == contracts.EnvFolder) {
		if a == contracts.EnvFolder {
			return 1
		}
		return -1
	}
	return strings.Compare(a, b)
}

// buildPlan turns the contracts' requirements into a fetch plan, one Need
// per key. A key already set in the process environment is not fetched,
// and a folder whose keys are all set is not requested. Keys of bootstrap
// transports never reach the plan.
func buildPlan(set *contracts.Set, m *contracts.TransportMap, service string, paths []string, proc []string) *Plan {
	p := &Plan{Service: service}
	folders := map[string]struct{}{}
	if set != nil {
		index := map[string]int{} // key -> position in Needs
		for _, r := range set.Requirements {
			if r.Transport != contracts.EnvFolder && m != nil && m.IsBootstrap(r.Transport) {
				continue
			}
			i, ok := index[r.Key]
			if !ok {
				_, inEnv := LookupEnv(proc, r.Key)
				i = len(p.Needs)
				index[r.Key] = i
				p.Needs = append(p.Needs, Need{Key: r.Key, Optional: true, InEnv: inEnv})
			}
			n := &p.Needs[i]
			if !slices.Contains(n.Transports, r.Transport) {
				n.Transports = append(n.Transports, r.Transport)
			}
			dependency := r.Transport == contracts.EnvFolder
			n.Required = n.Required || (dependency && r.Required)
			n.Optional = n.Optional && dependency && !r.Required
			n.Sources = append(n.Sources, r.Sources...)
		}
		for i := range p.Needs {
			n := &p.Needs[i]
			slices.SortFunc(n.Transports, transportOrder)
			n.Transport = n.Transports[0]
			n.Folders = foldersFor(service, n.Transports)
			if !n.InEnv {
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

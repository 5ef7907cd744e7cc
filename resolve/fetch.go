package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"secret-init/infisical"
	"secret-init/parallel"
)

// Fetch modes (--fetch): how a start asks Infisical for the plan's folders.
const (
	// FetchAuto lists the subtrees, then on their own only the folders
	// whose tree answer cannot be trusted.
	FetchAuto = "auto"
	// FetchTree lists /shared and /services/<slug> recursively, nothing more.
	FetchTree = "tree"
	// FetchFolders lists every folder on its own.
	FetchFolders = "folders"
)

// Subtrees are the folders a tree fetch lists recursively: /shared and,
// with a service, /services/<slug>, each when a folder that may hold a
// fetched key lies below it.
func (p *Plan) Subtrees() []string {
	roots := []string{"/shared"}
	if p.Service != "" {
		roots = append(roots, "/services/"+p.Service)
	}
	var out []string
	for _, root := range roots {
		for _, f := range p.fetchedFolders() {
			if strings.HasPrefix(f, root+"/") {
				out = append(out, root)
				break
			}
		}
	}
	return out
}

// lister sends the lists of one prefetch and keeps what the start must
// know of them all: which folders failed, and whether any answer held
// anything (Infisical answers a list in an unknown environment as it
// answers one of a missing folder).
type lister struct {
	c   *infisical.Client
	res *Result
	log zerolog.Logger

	mu      sync.Mutex
	answers map[string]folderAnswer // by folder: what it holds, as far as a start knows
	sent    []string                // every folder listed, on its own or as a subtree
	empty   int                     // lists that held nothing: 404, or an older server's empty 200
	failed  map[string]error        // lists that failed, by folder
}

func newLister(c *infisical.Client, res *Result, log zerolog.Logger) *lister {
	return &lister{c: c, res: res, log: log, answers: map[string]folderAnswer{}, failed: map[string]error{}}
}

// folders lists each folder on its own, in parallel, at most
// infisical.MaxParallel at once.
func (l *lister) folders(ctx context.Context, folders []string) {
	parallel.For(len(folders), infisical.MaxParallel, func(i int) { l.folder(ctx, folders[i]) })
}

// folder lists f on its own. The answer is exact: it replaces whatever a
// subtree's answer said of f.
func (l *lister) folder(ctx context.Context, f string) {
	secrets, err := l.c.ListSecrets(ctx, f)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, f)
	switch {
	case errors.Is(err, infisical.ErrFolderNotFound):
		l.log.Trace().Str("folder", f).Msg("folder not found in Infisical: its keys are missing")
		l.answers[f] = folderAnswer{}
		l.empty++
		return
	case err != nil:
		l.log.Trace().Str("folder", f).Msg("folder not listed")
		l.failed[f] = err
		delete(l.answers, f)
		return
	}
	l.log.Trace().Str("folder", f).Int("secrets", len(secrets)).Msg("folder listed")
	m := make(folderAnswer, len(secrets))
	for _, s := range secrets {
		m[s.Key] = s
	}
	l.answers[f] = m
	l.res.Read += len(secrets)
	if len(m) == 0 {
		l.empty++ // an older server's answer for a missing folder
	}
}

// conclude decides what the lists say of Infisical as a whole, and
// records the folders that failed alone. When no list held anything, one
// more request asks whether the environment and project exist at all: a
// typo in INFISICAL_ENVIRONMENT must not pass for a project that nobody
// seeded. When every list failed, Infisical as a whole failed (down,
// timeout, 5xx, unknown project, not Infisical at that address): it is
// said once rather than per folder.
func (l *lister) conclude(ctx context.Context) {
	n := len(l.sent)
	if n == 0 {
		return
	}
	if l.empty == n {
		var se *infisical.ScopeError
		if err := l.c.CheckScope(ctx); errors.As(err, &se) {
			l.res.Failed = err
		}
		return
	}
	if len(l.failed) == n {
		first := slices.Min(l.sent)
		err := l.failed[first]
		var se *infisical.ScopeError
		var ni *infisical.NotInfisicalError
		if errors.As(err, &se) || errors.As(err, &ni) {
			l.res.Failed = err
		} else {
			l.res.Failed = fmt.Errorf("list %s: %w", first, err)
		}
		return
	}
	for f, err := range l.failed {
		l.res.FolderErr[f] = err
	}
}

// fetchFolders is --fetch folders: every folder of the plan on its own,
// in one parallel round.
func fetchFolders(ctx context.Context, c *infisical.Client, p *Plan, res *Result, log zerolog.Logger) map[string]folderAnswer {
	l := newLister(c, res, log)
	l.folders(ctx, p.Folders)
	l.conclude(ctx)
	return l.answers
}

// treeAnswer is what one recursive list said.
type treeAnswer struct {
	root    string
	folders []string // the plan's folders below root
	tree    *infisical.Tree
	err     error
}

// fetchTrees is --fetch tree and auto. The first round lists each subtree
// recursively and the --path folders on their own, in parallel; each
// planned folder then holds the secrets of the tree answer whose
// secretPath is that folder. In auto, a second round lists on their own
// the folders whose tree answer cannot be trusted:
//   - every planned folder of a subtree whose answer carries imports (the
//     server returns them as one flat list without the importing folder,
//     so their precedence cannot be rebuilt), was refused (403: the
//     identity may still read folders below it) or was larger than the
//     client takes (each folder's own answer is smaller);
//   - each folder where a key that no folder gave a usable value is
//     absent: a recursive list leaves out what the identity may not read
//     without a word, and only a list of the folder itself tells a 403
//     from a key that is truly missing.
//
// A subtree that does not exist (404) holds nothing, and costs no further
// list.
func fetchTrees(ctx context.Context, c *infisical.Client, p *Plan, auto bool, res *Result, log zerolog.Logger) map[string]folderAnswer {
	l := newLister(c, res, log)
	wanted := p.fetchedFolders()
	var trees []*treeAnswer
	for _, root := range p.Subtrees() {
		t := &treeAnswer{root: root}
		for _, f := range wanted {
			if strings.HasPrefix(f, root+"/") {
				t.folders = append(t.folders, f)
			}
		}
		trees = append(trees, t)
	}
	// A folder a plan wants outside both subtrees: only a transport map
	// with a slash in a transport's name makes one. It is listed on its own.
	direct := append([]string(nil), p.Paths...)
	for _, f := range wanted {
		if !underAny(f, trees) && !slices.Contains(direct, f) {
			direct = append(direct, f)
		}
	}

	// One round: the subtrees and the folders listed on their own.
	parallel.For(len(trees)+len(direct), infisical.MaxParallel, func(i int) {
		if i >= len(trees) {
			l.folder(ctx, direct[i-len(trees)])
			return
		}
		t := trees[i]
		t.tree, t.err = c.ListTree(ctx, t.root)
	})

	exact := map[string]bool{} // folders listed on their own
	for _, f := range direct {
		exact[f] = true
	}
	fromTree := map[string]bool{} // folders whose answer is a subtree's
	var relist []string
	for _, t := range trees {
		switch {
		case auto && (errors.Is(t.err, infisical.ErrForbidden) || errors.Is(t.err, infisical.ErrAnswerTooLarge)):
			log.Debug().Str("folder", t.root).Msg("subtree refused, or its answer over the cap; its folders are listed on their own")
			relist = append(relist, notIn(t.folders, exact)...)
			continue // the folders' own lists stand for it
		case auto && t.err == nil && t.tree.Imports > 0:
			log.Debug().Str("folder", t.root).Int("imports", t.tree.Imports).Msg("subtree imports secrets; its folders are listed on their own")
			relist = append(relist, notIn(t.folders, exact)...)
			res.Read += t.tree.Read
			continue
		}
		l.sent = append(l.sent, t.root)
		switch {
		case errors.Is(t.err, infisical.ErrFolderNotFound):
			log.Trace().Str("folder", t.root).Msg("subtree not found in Infisical: its keys are missing")
			l.empty++
			for _, f := range notIn(t.folders, exact) {
				l.answers[f] = folderAnswer{}
			}
		case t.err != nil:
			log.Trace().Str("folder", t.root).Msg("subtree not listed")
			l.failed[t.root] = t.err
		default:
			if t.tree.Imports > 0 {
				log.Warn().Str("folder", t.root).Int("imports", t.tree.Imports).Msg("--fetch tree leaves out the imports of this subtree; --fetch auto or folders takes them")
			}
			log.Trace().Str("folder", t.root).Int("secrets", t.tree.Read).Msg("subtree listed")
			res.Read += t.tree.Read
			if t.tree.Read == 0 {
				l.empty++
			}
			for _, f := range notIn(t.folders, exact) {
				l.answers[f] = folderAnswer{}
				fromTree[f] = true
			}
			for _, s := range t.tree.Secrets {
				if fromTree[s.Path] {
					l.answers[s.Path][s.Key] = s
				}
			}
		}
	}
	if auto {
		// Second round: the subtrees that cannot be trusted, and the
		// folders that lack a key. A key that may yet come from a folder of
		// the first kind waits for its answer: only if that folder lacks it
		// too are the others asked for, in a third round.
		pending := map[string]bool{}
		for _, f := range relist {
			pending[f] = true
		}
		second := append(relist, p.unsure(l.answers, fromTree, pending)...)
		l.folders(ctx, second)
		for _, f := range second {
			delete(fromTree, f) // its own answer now
		}
		if len(relist) > 0 {
			l.folders(ctx, p.unsure(l.answers, fromTree, nil))
		}
	}
	l.conclude(ctx)
	return l.answers
}

// fetchedFolders are the folders that may hold a key a start fetches,
// sorted: the plan's folders less the --path ones that hold no such key.
func (p *Plan) fetchedFolders() []string {
	need := map[string]bool{}
	for _, n := range p.Needs {
		if !n.InEnv {
			for _, f := range n.Folders {
				need[f] = true
			}
		}
	}
	var out []string
	for _, f := range p.Folders {
		if need[f] {
			out = append(out, f)
		}
	}
	return out
}

// unsure lists the folders a subtree's answer said nothing of for a key
// that no folder gave a usable value: those where the key is absent from
// the subtree's answer, each once. Where it is present but empty, hidden
// or unresolved, a list of the folder itself would say the same. A key
// that a pending folder (one whose own list is on its way) may still give
// is left for later.
func (p *Plan) unsure(answers map[string]folderAnswer, fromTree, pending map[string]bool) []string {
	var out []string
	listed := map[string]bool{}
	for _, n := range p.Needs {
		if n.InEnv {
			continue
		}
		var absent []string
		found, waits := false, false
		for _, f := range slices.Concat(n.Folders, p.Paths) { // as pick looks
			if pending[f] {
				waits = true
				continue
			}
			sec, ok := answers[f][n.Key]
			if ok && sec.Value != "" && !sec.Hidden && !sec.Unresolved {
				found = true
				break
			}
			if !ok && fromTree[f] {
				absent = append(absent, f)
			}
		}
		if found || waits {
			continue
		}
		for _, f := range absent {
			if !listed[f] {
				listed[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func underAny(f string, trees []*treeAnswer) bool {
	for _, t := range trees {
		if strings.HasPrefix(f, t.root+"/") {
			return true
		}
	}
	return false
}

// notIn is the folders that are not in skip.
func notIn(folders []string, skip map[string]bool) []string {
	var out []string
	for _, f := range folders {
		if !skip[f] {
			out = append(out, f)
		}
	}
	return out
}

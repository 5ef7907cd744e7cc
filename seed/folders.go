package seed

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"secret-init/infisical"
	"secret-init/resolve"
)

// FolderAPI is what a folder tree needs of Infisical, in one environment
// of one project. *infisical.Client is one, for the run's environment.
type FolderAPI interface {
	ListFolders(ctx context.Context, folder string) ([]string, error)
	CreateFolder(ctx context.Context, parent, name string) error
}

// folderState is what is known of one folder.
type folderState int

const (
	folderUnknown folderState = iota // Infisical not read
	folderExists
	folderMissing // to be created
	folderFailed  // reading or creating it failed: what goes in it fails
)

// Folders is what is known of the folders of one environment: which
// exist, which are missing, and the creations that make them. Infisical
// answers a folder that exists already with a 400 "already exists",
// which CreateFolder takes for success: a second run, or one at the same
// time, changes nothing.
type Folders struct {
	api      FolderAPI // nil: Infisical is not read
	execute  bool
	state    map[string]folderState
	children map[string]map[string]bool // parent -> names of its subfolders, as listed
	err      map[string]error           // folder -> why it cannot be decided or created

	// Steps are the creations of the missing folders, parents first; after
	// Create, those that failed are FAILED.
	Steps []Step
	// Warnings say which listings failed in a dry run.
	Warnings []string
}

// NewFolders is the tree of one environment, read through api; nil api
// means Infisical is not read, and every folder is unknown. execute says
// the folders will be created: a listing that fails is then a failure of
// the folders below it, not a warning.
func NewFolders(api FolderAPI, execute bool) *Folders {
	return &Folders{api: api, execute: execute, state: map[string]folderState{}, children: map[string]map[string]bool{}, err: map[string]error{}}
}

// Find learns which of the targets and of their parents exist, listing
// each parent once; each missing one becomes a CREATE step, parents first.
func (t *Folders) Find(ctx context.Context, targets []string) {
	for _, f := range targets {
		if t.api == nil {
			t.state[f] = folderUnknown
			continue
		}
		for _, a := range ancestors(f) {
			if _, done := t.state[a]; done {
				continue
			}
			t.state[a] = t.exists(ctx, a)
			if t.state[a] == folderMissing {
				t.Steps = append(t.Steps, Step{Action: Create, Folder: a})
			}
		}
	}
}

// Exists reports whether Find saw folder f.
func (t *Folders) Exists(f string) bool { return t.state[f] == folderExists }

// Failure is why folder f cannot be read or was not created; nil when it
// can be used.
func (t *Folders) Failure(f string) error {
	if t.state[f] != folderFailed {
		return nil
	}
	return t.err[f]
}

// fail marks f as unusable, for err.
func (t *Folders) fail(f string, err error) {
	t.state[f], t.err[f] = folderFailed, err
}

// exists asks the parent folder whether folder f is there. A parent that
// is missing has no children; a parent whose listing failed makes its
// children fail too.
func (t *Folders) exists(ctx context.Context, f string) folderState {
	if f == "/" {
		return folderExists
	}
	parent, name := path.Split(f)
	parent = resolve.CleanFolder(parent)
	switch t.state[parent] {
	case folderMissing:
		return folderMissing
	case folderFailed:
		t.err[f] = t.err[parent]
		return folderFailed
	}
	kids, ok := t.children[parent]
	if !ok {
		names, err := t.api.ListFolders(ctx, parent)
		switch {
		case errors.Is(err, infisical.ErrNotFound):
			names = nil
		case err != nil:
			t.err[f] = err
			if !t.execute {
				t.Warnings = append(t.Warnings, fmt.Sprintf("cannot list folders in %s: %v", parent, err))
			}
			return folderFailed
		}
		kids = map[string]bool{}
		for _, n := range names {
			kids[n] = true
		}
		t.children[parent] = kids
	}
	if kids[name] {
		return folderExists
	}
	return folderMissing
}

// Create creates the missing folders, parents first; a folder that cannot
// be created fails its subfolders and what goes in them.
func (t *Folders) Create(ctx context.Context) {
	for i := range t.Steps {
		s := &t.Steps[i]
		if s.Action != Create {
			continue
		}
		parent, name := path.Split(s.Folder)
		parent = resolve.CleanFolder(parent)
		if t.state[parent] == folderFailed {
			s.Action, s.Err = Failed, fmt.Errorf("parent folder %s was not created", parent)
			t.fail(s.Folder, s.Err)
			continue
		}
		if err := t.api.CreateFolder(ctx, parent, name); err != nil {
			s.Action, s.Err = Failed, err
			t.fail(s.Folder, fmt.Errorf("folder %s was not created", s.Folder))
			continue
		}
		t.state[s.Folder] = folderExists
	}
}

// ancestors returns /a, /a/b, /a/b/c for /a/b/c.
func ancestors(f string) []string {
	var out []string
	parts := strings.Split(strings.Trim(f, "/"), "/")
	for i := range parts {
		out = append(out, "/"+strings.Join(parts[:i+1], "/"))
	}
	return out
}

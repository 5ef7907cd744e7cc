package infisicaltest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

type folderJSON struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	CreatedAt    string  `json:"createdAt"`
	UpdatedAt    string  `json:"updatedAt"`
	EnvID        string  `json:"envId"`
	Path         string  `json:"path,omitempty"`
	RelativePath string  `json:"relativePath,omitempty"`
	Version      int     `json:"version"`
	ParentID     *string `json:"parentId"`
	IsReserved   bool    `json:"isReserved"`
}

func (s *Server) folderJSON(e *environment, path string) folderJSON {
	f := e.folders[path]
	ts := f.created.Format(time.RFC3339Nano)
	fj := folderJSON{ID: f.id, Name: pathBase(path), CreatedAt: ts, UpdatedAt: ts, EnvID: e.id, Version: 1}
	if parent := e.folders[pathDir(path)]; parent != nil && path != "/" {
		fj.ParentID = &parent.id
	}
	return fj
}

// lenientBool is the folders routers' booleanSchema: "", "0" and "false"
// (any case) are false, every other string is true.
func lenientBool(v string) bool {
	switch strings.ToLower(v) {
	case "", "0", "false":
		return false
	}
	return true
}

// folderDir reads a folder route's parent path: path, or the legacy
// directory (v1 only).
func folderDir(path, directory string) string {
	if path == "" {
		path = directory
	}
	return cleanPath(path)
}

// listFolders lists the folders below a path; recursive lists every
// descendant with relativePath (relative to the path listed, which counts
// as /). A path that does not exist has no folders; an unknown environment
// is a 404. Project membership is all it takes.
func (s *Server) listFolders(v2 bool) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		q := r.URL.Query()
		if v2 && q.Get("path") == "" {
			return validation(reqID, "path")
		}
		if bad := s.checkProject(reqID, projectOf(q.Get), v3, p); bad != nil {
			return *bad
		}
		env := q.Get("environment")
		e := s.envs[env]
		if e == nil {
			return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Environment with slug '%s' not found", env))
		}
		dir := folderDir(q.Get("path"), q.Get("directory"))
		out := []folderJSON{}
		if e.folders[dir] == nil {
			return jsonAnswer(http.StatusOK, map[string]any{"folders": out})
		}
		recursive := lenientBool(q.Get("recursive"))
		for _, fp := range e.subtree(dir, maxFolderDepth) {
			if fp == dir || (!recursive && pathDir(fp) != dir) {
				continue
			}
			fj := s.folderJSON(e, fp)
			if recursive {
				fj.RelativePath = cleanPath(strings.TrimPrefix(fp, strings.TrimSuffix(dir, "/")))
			}
			out = append(out, fj)
		}
		return jsonAnswer(http.StatusOK, map[string]any{"folders": out})
	}
}

// folderName is Infisical's isValidFolderName.
var folderName = regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`)

type folderBody struct {
	WorkspaceID string `json:"workspaceId"`
	ProjectID   string `json:"projectId"`
	Environment string `json:"environment"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	Directory   string `json:"directory"`
	ForceDelete *bool  `json:"forceDelete"`
}

func (b folderBody) project() string {
	if b.ProjectID != "" {
		return b.ProjectID
	}
	return b.WorkspaceID
}

// createFolder creates a folder and its missing parents; an existing one
// is a 400 (older servers returned it).
func (s *Server) createFolder(v2 bool) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		var in folderBody
		if a := readBody(r, reqID, &in); a != nil {
			return *a
		}
		if !folderName.MatchString(in.Name) {
			return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
				"code": "custom", "path": []string{"name"},
				"message": "Invalid folder name. Only alphanumeric characters, dashes, and underscores are allowed.",
			}})
		}
		e, bad := s.writeEnv(reqID, v3, p, in.project(), in.Environment)
		if bad != nil {
			return *bad
		}
		parent := folderDir(in.Path, in.Directory)
		if !p.projectMay(subjFolders, actCreate) || !p.canRead(in.Environment, parent) {
			return denied(reqID, "create", "secret-folders")
		}
		full := cleanPath(parent + "/" + in.Name)
		if e.folders[full] != nil {
			return apiError(reqID, http.StatusBadRequest, "BadRequest",
				fmt.Sprintf("Folder with name '%s' already exists in path '%s'", in.Name, parent))
		}
		s.mkdir(e, full)
		fj := s.folderJSON(e, full)
		fj.Path = full
		return jsonAnswer(http.StatusOK, map[string]any{"folder": fj})
	}
}

// deleteFolder deletes a folder by name (or id) below path, with what is
// in it: v1 always forces, v2 refuses a folder that holds anything unless
// forceDelete is true.
func (s *Server) deleteFolder(v2 bool) func(*http.Request, string, *principal) answer {
	return func(r *http.Request, reqID string, p *principal) answer {
		var in folderBody
		if a := readBody(r, reqID, &in); a != nil {
			return *a
		}
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		e, bad := s.writeEnv(reqID, v3, p, in.project(), in.Environment)
		if bad != nil {
			return *bad
		}
		parent := folderDir(in.Path, in.Directory)
		if e.folders[parent] == nil {
			return apiError(reqID, http.StatusNotFound, "NotFound",
				fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", parent, in.Environment))
		}
		full := ""
		for fp, f := range e.folders {
			if fp != "/" && pathDir(fp) == parent && (pathBase(fp) == name || f.id == name) {
				full = fp
			}
		}
		if full == "" {
			return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Folder with ID '%s' not found", name))
		}
		if !p.projectMay(subjFolders, actDelete) || !p.canRead(in.Environment, full) {
			return denied(reqID, "delete", "secret-folders")
		}
		tree := e.subtree(full, 1<<30)
		force := !v2 || (in.ForceDelete != nil && *in.ForceDelete)
		if !force && (len(tree) > 1 || len(e.folders[full].secrets) > 0 || len(e.folders[full].imports) > 0) {
			return apiError(reqID, http.StatusBadRequest, "deleteFolder",
				fmt.Sprintf("Cannot delete folder \"%s\" because it contains resources. Use forceDelete=true to delete it forcefully.", pathBase(full)))
		}
		fj := s.folderJSON(e, full)
		for _, fp := range tree {
			delete(e.folders, fp)
		}
		return jsonAnswer(http.StatusOK, map[string]any{"folder": fj})
	}
}

func pathDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func pathBase(p string) string {
	if p == "/" {
		return "root"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

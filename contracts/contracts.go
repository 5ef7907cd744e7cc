// Package contracts reads node contract YAML files and works out which
// configuration keys the service needs: every key of each transport the
// contracts name (through the transport map), plus the variables they
// declare as environment dependencies.
//
// A contract is read in three places only:
//
//	metadata.transport_type
//	handler_routing.handlers[].handler_type
//	handler_routing.handlers[].handler.handler_type
//	dependencies[] with type: environment (env_var, or an upper-case name; required)
//
// A dependency written with an upper-case name: and no env_var: is taken,
// but never required: the seed project's extractor skips such entries.
//
// Everything else in a contract is ignored. Whatever cannot be used (an
// unknown transport, a malformed or unreadable file, a field of the wrong
// type) is a Warning naming file, line and field; it never stops Load, and
// the caller decides whether warnings are fatal (--required).
package contracts

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// MaxFileSize caps a contract (and a transport map) file. Real contracts are
// around 10 KiB. yaml.v3 allocates about 100 bytes per byte of input and
// takes up to 0.8 s on a hostile 1 MiB file, so the cap is 256 KiB: it
// bounds the memory and time one bad file costs every container start.
const MaxFileSize = 256 << 10

// NameOnlyField ends the Source.Field of a dependency written with name:
// and no env_var: (dependencies[2].name). Such a dependency is never
// required: the seed project's extractor skips it, so its services start
// without the key.
const NameOnlyField = ".name"

// Source says where a need was declared.
type Source struct {
	File  string
	Line  int
	Field string // e.g. "handler_routing.handlers[1].handler_type", "dependencies[2].env_var"
}

// Requirement is one key the service needs, with every place that asked.
type Requirement struct {
	Key       string
	Transport string // canonical transport, or EnvFolder for dependencies[]
	Required  bool   // transports: true; dependencies: their required (default true; false for name: alone); true wins when merged
	Sources   []Source
}

// Warning is a problem in a contract that did not stop loading.
type Warning struct {
	File  string
	Line  int // 0 when there is no line (unreadable file, walk error)
	Field string
	Msg   string
}

// String renders "file:line: field: msg", leaving out an absent line or field.
func (w Warning) String() string {
	var b strings.Builder
	b.WriteString(w.File)
	if w.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(w.Line))
	}
	if w.Field != "" {
		b.WriteString(": ")
		b.WriteString(w.Field)
	}
	b.WriteString(": ")
	b.WriteString(w.Msg)
	return b.String()
}

func (w Warning) Error() string { return w.String() }

// Set is what a Load found.
type Set struct {
	// Files are the contract files read, sorted. Files skipped before
	// reading (too large, unreadable, not a regular file) are not listed;
	// each has a Warning instead.
	Files []string
	// Transports are the canonical transports named, sorted, bootstrap and
	// keyless ones (infisical, runtime, inmemory) included.
	Transports []string
	// Requirements are the keys to fetch: one per (Transport, Key), sorted
	// by transport, then in the map's key order, or for EnvFolder in the
	// order the dependencies were first declared. Keys of bootstrap
	// transports, and explicit dependencies on those keys, are not here
	// but in Bootstrap.
	Requirements []Requirement
	// Bootstrap are needs that must come from the environment or .env and
	// are never fetched (the bootstrap transport's keys), same order rules.
	Bootstrap []Requirement
	// Warnings are sorted by file, then line.
	Warnings []Warning
}

// Load reads contracts from paths: a directory is walked for files named
// contract.yaml or contract_*.yaml, a file is read whatever its name.
// explicit says the paths were named by the user, so that a missing one is
// an error; otherwise a missing path means no contracts. A nil m means the
// default transport map.
func Load(paths []string, explicit bool, m *TransportMap) (*Set, error) {
	if m == nil {
		m = DefaultTransportMap()
	}
	r := &readers{m: m}
	l := loader{seen: map[string]bool{}, found: r.read}
	for _, p := range paths {
		if err := l.collect(p, explicit); err != nil {
			r.wait(0)
			return nil, err
		}
	}
	results := r.wait(len(l.files))
	order := make([]int, len(l.files))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(l.files[a], l.files[b]) })

	agg := newAggregate(m)
	set := &Set{Warnings: l.warnings}
	for _, i := range order {
		f, r := l.files[i], results[i]
		if r.err != nil {
			set.Warnings = append(set.Warnings, readWarning(f, r.err))
			continue
		}
		set.Files = append(set.Files, f)
		set.Warnings = append(set.Warnings, r.warnings...)
		for _, n := range r.needs {
			agg.add(n)
		}
	}
	set.Transports, set.Requirements, set.Bootstrap = agg.result()
	slices.SortStableFunc(set.Warnings, func(a, b Warning) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return set, nil
}

type result struct {
	contract
	err error // the file could not be read
}

// readers read and parse files as the walk finds them, which it does at
// each container start: one more worker per file found, up to one per
// core, so a single contract costs no second thread. Each worker reuses one
// read buffer and one scratch: nothing parse returns points into either.
type readers struct {
	m       *TransportMap
	jobs    chan job
	workers int
	wg      sync.WaitGroup
	mu      sync.Mutex
	done    []done // in any order
}

type job struct {
	i    int // the file's index in the walk's order
	path string
}

type done struct {
	i   int
	res result
}

func (r *readers) read(i int, path string) {
	if r.jobs == nil {
		r.jobs = make(chan job, 64)
	}
	if r.workers <= i && r.workers < runtime.GOMAXPROCS(0) {
		r.workers++
		r.wg.Go(r.work)
	}
	r.jobs <- job{i, path}
}

func (r *readers) work() {
	var buf []byte
	var sc scratch
	var mine []done
	for j := range r.jobs {
		d := done{i: j.i}
		data, err := readCapped(j.path, buf)
		if err != nil {
			d.res.err = err
		} else {
			d.res.contract = parse(j.path, data, r.m, &sc)
			buf = data
		}
		mine = append(mine, d)
	}
	r.mu.Lock()
	r.done = append(r.done, mine...)
	r.mu.Unlock()
}

// wait returns the results of the n files read, by walk order.
func (r *readers) wait(n int) []result {
	if r.jobs != nil {
		close(r.jobs)
	}
	r.wg.Wait()
	results := make([]result, n)
	for _, d := range r.done {
		if d.i < n {
			results[d.i] = d.res
		}
	}
	return results
}

type loader struct {
	files    []string
	seen     map[string]bool // cleaned paths, so overlapping paths read a file once
	found    func(i int, path string)
	warnings []Warning
	dirBuf   []byte
}

func (l *loader) warn(path, msg string) {
	l.warnings = append(l.warnings, Warning{File: path, Msg: msg})
}

func (l *loader) add(path string) {
	path = filepath.Clean(path)
	if !l.seen[path] {
		l.seen[path] = true
		l.files = append(l.files, path)
		l.found(len(l.files)-1, path)
	}
}

// isContractName reports whether a file found in a walk is a contract:
// contract.yaml or contract_*.yaml (so handler_contract.yaml is not).
func isContractName(name string) bool {
	return name == "contract.yaml" || (strings.HasPrefix(name, "contract_") && strings.HasSuffix(name, ".yaml"))
}

func (l *loader) collect(root string, explicit bool) error {
	// Stat follows a symlinked root: a directory named by the user (or a
	// Kubernetes volume) is often a link.
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if explicit {
			return fmt.Errorf("contracts: %w", err)
		}
		return nil
	case err != nil:
		l.warn(root, describe(err))
		return nil
	case !fi.IsDir():
		l.add(root)
		return nil
	}
	l.walk(filepath.Clean(root))
	return nil
}

// walk adds the contracts under dir, a clean path. Like fs.WalkDir it
// does not follow symlinked directories, so a link loop cannot trap it;
// symlinked files are followed when read. It runs at every start over
// every node directory, so it reads directories with getdents64 into one
// buffer: os.ReadDir costs several times more in a fresh process (an
// os.File with its cleanup, an entry per name, a sort), and it builds
// paths by concatenation.
func (l *loader) walk(dir string) {
	prefix := dir + "/" // what filepath.Join(dir, name) gives, for a clean dir
	switch {
	case dir == ".":
		prefix = ""
	case strings.HasSuffix(dir, "/"):
		prefix = dir
	}
	var found, subdirs []string
	err := l.readDir(dir, func(name string, typ byte) error {
		if typ == syscall.DT_UNKNOWN { // some file systems leave the type to lstat
			var st syscall.Stat_t
			if err := syscall.Lstat(prefix+name, &st); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // gone since the listing, as os.ReadDir treats it
				}
				return &fs.PathError{Op: "lstat", Path: prefix + name, Err: err}
			}
			typ = syscall.DT_REG
			if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
				typ = syscall.DT_DIR
			}
		}
		switch {
		case typ == syscall.DT_DIR:
			// Hidden directories hold no contracts but may hold copies of
			// them: .git, and Kubernetes' ..data and ..<timestamp> behind a
			// ConfigMap's symlinked files.
			if !strings.HasPrefix(name, ".") {
				subdirs = append(subdirs, prefix+name)
			}
		case isContractName(name):
			found = append(found, prefix+name)
		}
		return nil
	})
	if err != nil {
		l.warn(dir, describe(err))
		return
	}
	for _, f := range found {
		l.add(f)
	}
	for _, d := range subdirs {
		l.walk(d)
	}
}

// readDir calls fn with the name and d_type of each entry of dir but . and
// .., parsing the linux_dirent64 records getdents64 returns.
func (l *loader) readDir(dir string, fn func(name string, typ byte) error) error {
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	if l.dirBuf == nil {
		l.dirBuf = make([]byte, 8<<10)
	}
	for {
		n, err := retryEINTR(func() (int, error) { return syscall.ReadDirent(fd, l.dirBuf) })
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
		// d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), d_name.
		for b := l.dirBuf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:]))
			if reclen < 19 || reclen > len(b) {
				return &fs.PathError{Op: "readdirent", Path: dir, Err: syscall.EINVAL}
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			typ := b[18]
			b = b[reclen:]
			if string(name) == "." || string(name) == ".." {
				continue
			}
			if err := fn(string(name), typ); err != nil {
				return err
			}
		}
	}
}

// readCapped reads a regular file of at most MaxFileSize bytes into buf,
// grown as needed. It opens without blocking so that a FIFO named
// contract.yaml cannot hang startup, and never reads more than the cap,
// whatever the file claims to be. It uses the system calls directly: an
// os.File would register each file with the poller and read it in growing
// chunks, several calls per contract that every start pays.
func readCapped(path string, buf []byte) ([]byte, error) {
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, errNotRegular
	}
	if st.Size > MaxFileSize {
		return nil, errTooLarge
	}
	// One byte more than the size: a read that fills it means the file grew.
	buf = slices.Grow(buf[:0], int(st.Size)+1)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := retryEINTR(func() (int, error) { return syscall.Read(fd, buf[len(buf):min(cap(buf), MaxFileSize+1)]) })
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) > MaxFileSize {
			return nil, errTooLarge // grew while being read
		}
		if int64(len(buf)) == st.Size {
			return buf, nil // all fstat promised and no more: the read that would return 0 is not needed
		}
	}
}

func retryEINTR(call func() (int, error)) (int, error) {
	for range 100 {
		n, err := call()
		if err != syscall.EINTR {
			return n, err
		}
	}
	return 0, syscall.EINTR
}

var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = fmt.Errorf("larger than %d KiB", MaxFileSize>>10)
)

func readWarning(file string, err error) Warning {
	msg := describe(err)
	if errors.Is(err, errTooLarge) || errors.Is(err, errNotRegular) {
		msg += "; skipped"
	}
	return Warning{File: file, Msg: msg}
}

// describe turns a file system error into a short message without the
// path, which the Warning already carries.
func describe(err error) string {
	switch {
	case errors.Is(err, syscall.ELOOP):
		return "symlink loop; skipped"
	case errors.Is(err, fs.ErrNotExist):
		return "dangling symlink or vanished file; skipped"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied; skipped"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// aggregate folds needs into requirements, one per (transport, key).
// Every key of a transport has the same sources, so they are gathered
// once per transport and shared (capacity-limited, so an append by a
// caller copies): 115 contracts name transports hundreds of times.
type aggregate struct {
	m          *TransportMap
	bootKeys   map[string]bool
	transports map[string][]Source // each transport named, and where
	env        map[string]*entry   // explicit dependencies by key
}

type entry struct {
	req   Requirement
	order int // index in the map's keys, or declaration order for EnvFolder
	boot  bool
}

func newAggregate(m *TransportMap) *aggregate {
	return &aggregate{m: m, bootKeys: m.bootstrapKeys(), transports: map[string][]Source{}, env: map[string]*entry{}}
}

func (a *aggregate) add(n need) {
	if n.transport != EnvFolder {
		a.transports[n.transport] = append(a.transports[n.transport], n.src)
		return
	}
	e := a.env[n.key]
	if e == nil {
		e = &entry{req: Requirement{Key: n.key, Transport: EnvFolder}, order: len(a.env), boot: a.bootKeys[n.key]}
		a.env[n.key] = e
	}
	e.req.Required = e.req.Required || n.required
	e.req.Sources = append(e.req.Sources, n.src)
}

func (a *aggregate) result() (transports []string, reqs, boot []Requirement) {
	entries := make([]*entry, 0, len(a.env))
	for t, srcs := range a.transports {
		transports = append(transports, t)
		for i, k := range a.m.keys[t] {
			req := Requirement{Key: k, Transport: t, Required: true, Sources: srcs[:len(srcs):len(srcs)]}
			entries = append(entries, &entry{req: req, order: i, boot: a.m.bootstrap[t]})
		}
	}
	slices.Sort(transports)
	for _, e := range a.env {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(x, y *entry) int {
		return cmp.Or(strings.Compare(x.req.Transport, y.req.Transport), cmp.Compare(x.order, y.order))
	})
	for _, e := range entries {
		if e.boot {
			boot = append(boot, e.req)
		} else {
			reqs = append(reqs, e.req)
		}
	}
	return transports, reqs, boot
}

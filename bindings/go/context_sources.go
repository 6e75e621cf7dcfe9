package kiln

/*
#include <stdint.h>
#include <stdlib.h>
#include <kiln.h>
*/
import "C"

import (
	"runtime"
	"sort"
	"unsafe"
)

// OpenContextTarball opens a tar archive (plain or gzip'd, detected) as a
// build context: its .dockerignore applies and the same tree gives a
// directory's entries and version. options are kiln.h's tarball options
// ("dockerfile", "maxBytes"; nil for none). A corrupt archive or a member
// leaving the context is CodeInvalid naming it.
func OpenContextTarball(path string, options Options) (*BuildContext, error) {
	cpath, freePath := cstring(path)
	defer freePath()
	return openContextWith(options, func(opts *C.char, out **C.kiln_context, e **C.kiln_error) C.int {
		return C.kiln_context_open_tarball(cpath, opts, out, e)
	})
}

// OpenContextTarballBytes is OpenContextTarball over an archive in memory;
// kiln copies data, which the caller may reuse on return.
func OpenContextTarballBytes(data []byte, options Options) (*BuildContext, error) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	defer runtime.KeepAlive(data)
	return openContextWith(options, func(opts *C.char, out **C.kiln_context, e **C.kiln_error) C.int {
		return C.kiln_context_open_tarball_data(p, C.size_t(len(data)), opts, out, e)
	})
}

// MemoryFile is one file of OpenContextFiles: a regular file (Content),
// a symlink (Symlink set) or a directory (Dir set, sent even when empty).
type MemoryFile struct {
	Content []byte
	Mode    uint32 // permission bits; 0 means 0644 (files) or 0755 (directories)
	Mtime   int64  // seconds since the epoch, sent in the tar (not in the version)
	Symlink string // the link target, sent verbatim and never followed
	Dir     bool
}

// OpenContextFiles opens files in memory (relative '/'-separated paths;
// parent directories are implied) as a build context. options are
// {"dockerfile": ...} or nil. A bad path (absolute, "..", below a file) is
// CodeInvalid naming it. The contents are copied.
func OpenContextFiles(files map[string]MemoryFile, options Options) (*BuildContext, error) {
	set := C.kiln_files_new()
	if set == nil {
		return nil, &Error{Code: CodeInternal, Name: CodeInternal.String(), Message: "kiln_files_new: out of memory"}
	}
	defer C.kiln_files_free(set)
	paths := make([]string, 0, len(files))
	for path := range files {
		paths = append(paths, path)
	}
	sort.Strings(paths) // errors name the same path on every run
	for _, path := range paths {
		if err := addMemoryFile(set, path, files[path]); err != nil {
			return nil, err
		}
	}
	return openContextWith(options, func(opts *C.char, out **C.kiln_context, e **C.kiln_error) C.int {
		return C.kiln_context_open_files(set, opts, out, e)
	})
}

func addMemoryFile(set *C.kiln_files, path string, f MemoryFile) error {
	cpath, freePath := cstring(path)
	defer freePath()
	var cerr *C.kiln_error
	var rc C.int
	switch {
	case f.Symlink != "":
		target, freeTarget := cstring(f.Symlink)
		defer freeTarget()
		rc = C.kiln_files_add_symlink(set, cpath, target, C.int64_t(f.Mtime), &cerr)
	case f.Dir:
		mode := f.Mode
		if mode == 0 {
			mode = 0o755
		}
		rc = C.kiln_files_add_dir(set, cpath, C.uint(mode), C.int64_t(f.Mtime), &cerr)
	default:
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		var p unsafe.Pointer
		if len(f.Content) > 0 {
			p = unsafe.Pointer(&f.Content[0])
		}
		rc = C.kiln_files_add(set, cpath, p, C.size_t(len(f.Content)), C.uint(mode), C.int64_t(f.Mtime), &cerr)
		runtime.KeepAlive(f.Content)
	}
	return takeError(rc, cerr)
}

// openContextWith runs one kiln_context_open_* call with the options
// document and wraps the handle it returns.
func openContextWith(options Options, open func(opts *C.char, out **C.kiln_context, e **C.kiln_error) C.int) (*BuildContext, error) {
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return nil, err
	}
	defer freeOpts()
	var p *C.kiln_context
	var cerr *C.kiln_error
	if err := takeError(open(opts, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	c := &BuildContext{p: p}
	runtime.SetFinalizer(c, (*BuildContext).Close)
	return c, nil
}

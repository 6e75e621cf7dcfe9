package kiln

/*
#include <stdint.h>
#include <stdlib.h>
#include <kiln.h>

extern int kilnGoEventC(const kiln_event *event, void *payload);

// The handle number becomes a void* here, in C, so Go never holds a
// non-pointer in a pointer type.
static int kiln_go_registry_copy(const char *source, const char *destination, const char *options,
                                 uintptr_t events, kiln_cancel *cancel, char **result, kiln_error **err) {
  return kiln_registry_copy(source, destination, options, events ? kilnGoEventC : NULL, (void *)events,
                            cancel, result, err);
}
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// Platform is an OCI platform object.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	OSVersion    string `json:"os.version,omitempty"`
	Variant      string `json:"variant,omitempty"`
}

// Descriptor is an OCI descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Image is what Registry.Inspect reports about an image or an index.
type Image struct {
	MediaType string         `json:"mediaType"`
	Digest    string         `json:"digest"`
	Size      int64          `json:"size"`
	Platform  string         `json:"platform,omitempty"` // "linux/arm64" (single images)
	Config    *Descriptor    `json:"config,omitempty"`
	Layers    []Descriptor   `json:"layers,omitempty"`
	Platforms []ImageOfIndex `json:"platforms,omitempty"` // children of an index
	TotalSize int64          `json:"totalSize"`           // each manifest, config and layer counted once
}

// ImageOfIndex is one child of an index in Image.Platforms.
type ImageOfIndex struct {
	Platform  string       `json:"platform,omitempty"`
	Digest    string       `json:"digest"`
	MediaType string       `json:"mediaType"`
	Size      int64        `json:"size"`
	Config    *Descriptor  `json:"config,omitempty"`
	Layers    []Descriptor `json:"layers,omitempty"`
	ImageSize int64        `json:"imageSize,omitempty"`
}

// CopyResult is what Copy did.
type CopyResult struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	Size         int64  `json:"size"`
	BlobsCopied  int    `json:"blobsCopied"`
	BlobsMounted int    `json:"blobsMounted"`
	BlobsSkipped int    `json:"blobsSkipped"`
	BytesCopied  int64  `json:"bytesCopied"`
	ManifestsPut int    `json:"manifestsPut"`
}

// Registry is one image store: a registry host ("127.0.0.1:5000",
// "ghcr.io") or an OCI image-layout directory ("oci:/path"). Images are named
// by a repository ("team/app"; "" for OCI layouts) and a reference (a tag or
// "sha256:<hex>"). Safe for concurrent use.
type Registry struct {
	mu sync.RWMutex // read-held by each call, write-held by Close
	p  *C.kiln_registry
}

// OpenRegistry opens location with the registry options of kiln.h (nil for
// none; {"create": true} initialises a missing OCI layout). Nothing is
// contacted until the first operation. Close the registry when done.
func OpenRegistry(location string, options Options) (*Registry, error) {
	loc, freeLoc := cstring(location)
	defer freeLoc()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return nil, err
	}
	defer freeOpts()
	var p *C.kiln_registry
	var cerr *C.kiln_error
	if err := takeError(C.kiln_registry_open(loc, opts, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	r := &Registry{p: p}
	runtime.SetFinalizer(r, (*Registry).Close)
	return r, nil
}

// Close waits for the registry's calls in flight, then frees it. Idempotent.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	C.kiln_registry_free(r.p)
	r.p = nil
}

// call runs fn with the live handle and a cancel token bound to ctx.
func (r *Registry) call(ctx context.Context, fn func(*C.kiln_registry, *C.kiln_cancel, **C.kiln_error) C.int) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "the registry is closed"}
	}
	tok := newCancel(ctx)
	defer tok.free()
	var cerr *C.kiln_error
	return contextError(ctx, takeError(fn(r.p, tok.p, &cerr), cerr))
}

// Resolve returns the descriptor of a manifest; an *Error with CodeNotFound
// when it does not exist.
func (r *Registry) Resolve(ctx context.Context, repository, reference string) (*Descriptor, error) {
	repo, freeRepo := cstring(repository)
	defer freeRepo()
	ref, freeRef := cstring(reference)
	defer freeRef()
	var out *C.char
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_resolve(p, repo, ref, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	var d Descriptor
	return &d, takeJSON(out, &d)
}

// Tags lists all tags of a repository (every page).
func (r *Registry) Tags(ctx context.Context, repository string) ([]string, error) {
	repo, freeRepo := cstring(repository)
	defer freeRepo()
	var out *C.char
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_tags(p, repo, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	var tags []string
	return tags, takeJSON(out, &tags)
}

// Catalog lists all repositories ([""] for an OCI layout).
func (r *Registry) Catalog(ctx context.Context) ([]string, error) {
	var out *C.char
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_catalog(p, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	var names []string
	return names, takeJSON(out, &names)
}

// Delete deletes the manifest a tag or digest names, with every tag pointing
// at it, and returns its digest. CodeUnsupported when the store has deletes off.
func (r *Registry) Delete(ctx context.Context, repository, reference string) (string, error) {
	repo, freeRepo := cstring(repository)
	defer freeRepo()
	ref, freeRef := cstring(reference)
	defer freeRef()
	var out *C.char
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_delete(p, repo, ref, c, &out, e)
	})
	return takeString(out), err
}

// BlobOptions are the optional parts of PushBlobFile.
type BlobOptions struct {
	MediaType string // "" means application/octet-stream
	// Digest, when set, is verified by the store, which keeps nothing on a
	// mismatch (CodeDigest); when "" the file is hashed first.
	Digest string
	Size   int64 // expected size; 0 or less means the file's size
}

// PushBlobFile uploads the file at path as a blob (unless the store has it)
// and returns its descriptor.
func (r *Registry) PushBlobFile(ctx context.Context, repository, path string, opts BlobOptions) (*Descriptor, error) {
	repo, freeRepo := cstring(repository)
	defer freeRepo()
	cpath, freePath := cstring(path)
	defer freePath()
	mediaType, freeType := optional(opts.MediaType)
	defer freeType()
	digest, freeDigest := optional(opts.Digest)
	defer freeDigest()
	size := C.int64_t(-1)
	if opts.Size > 0 {
		size = C.int64_t(opts.Size)
	}
	var out *C.char
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_push_blob_file(p, repo, cpath, mediaType, digest, size, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	var d Descriptor
	return &d, takeJSON(out, &d)
}

// PutManifest stores manifest bytes exactly as given under reference (a tag,
// or the bytes' own digest) and returns their digest.
func (r *Registry) PutManifest(ctx context.Context, repository, reference, mediaType string, manifest []byte) (string, error) {
	repo, freeRepo := cstring(repository)
	defer freeRepo()
	ref, freeRef := cstring(reference)
	defer freeRef()
	mt, freeType := cstring(mediaType)
	defer freeType()
	// C memory, so kiln may read it from any thread without pinning Go memory.
	data := C.CBytes(manifest)
	defer C.free(data)
	var out *C.char
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_put_manifest(p, repo, ref, mt, (*C.char)(data), C.size_t(len(manifest)), c, &out, e)
	})
	return takeString(out), err
}

// GetManifest returns a manifest's bytes as stored (verified against their
// digest) and its media type.
func (r *Registry) GetManifest(ctx context.Context, repository, reference string) ([]byte, string, error) {
	repo, freeRepo := cstring(repository)
	defer freeRepo()
	ref, freeRef := cstring(reference)
	defer freeRef()
	var data, mediaType *C.char
	var size C.size_t
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_get_manifest(p, repo, ref, c, &data, &size, &mediaType, e)
	})
	if err != nil {
		return nil, "", err
	}
	bytes := C.GoBytes(unsafe.Pointer(data), C.int(size))
	C.kiln_free(unsafe.Pointer(data))
	return bytes, takeString(mediaType), nil
}

// Inspect describes an image or index: platforms, config, layers, sizes.
func (r *Registry) Inspect(ctx context.Context, repository, reference string) (*Image, error) {
	repo, freeRepo := cstring(repository)
	defer freeRepo()
	ref, freeRef := cstring(reference)
	defer freeRef()
	var out *C.char
	err := r.call(ctx, func(p *C.kiln_registry, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_registry_inspect(p, repo, ref, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	var img Image
	return &img, takeJSON(out, &img)
}

// Copy publishes an image (or an index with all its platforms) from source
// to destination, each "oci:<dir>[:<tag>]" or "host/repo:tag" /
// "host/repo@sha256:...". options are kiln.h's registry options plus
// "parallelBlobs", "platforms" and "extraTags" (nil for none).
//
// onEvent (may be nil) receives "blob.start", "blob.progress", "blob.done",
// "blob.skipped", "blob.mounted", "manifest.put" and "copy.done" events on
// kiln's worker threads (not the calling goroutine), one at a time; it must
// synchronise with the rest of the program itself.
func Copy(ctx context.Context, source, destination string, options Options, onEvent EventFunc) (*CopyResult, error) {
	src, freeSrc := cstring(source)
	defer freeSrc()
	dst, freeDst := cstring(destination)
	defer freeDst()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return nil, err
	}
	defer freeOpts()
	st := &callbackState{onEvent: onEvent}
	h := st.handle()
	defer release(h)
	tok := newCancel(ctx)
	defer tok.free()
	var out *C.char
	var cerr *C.kiln_error
	rc := C.kiln_go_registry_copy(src, dst, opts, C.uintptr_t(h), tok.p, &out, &cerr)
	if err := st.finish(contextError(ctx, takeError(rc, cerr))); err != nil {
		return nil, err
	}
	var res CopyResult
	return &res, takeJSON(out, &res)
}

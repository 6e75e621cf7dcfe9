/*
 * kiln: build, push, publish and clean up container images from a library.
 *
 * This is the whole C ABI. The rules, which every function follows:
 *
 *  - Only opaque handles cross the boundary (typedef struct kiln_x kiln_x),
 *    each freed with kiln_x_free(NULL-safe). No struct layout is part of the
 *    ABI except structs that start with `unsigned version`; those only grow,
 *    and the caller sets `version` to the KILN_*_VERSION it was compiled with.
 *  - Every fallible call returns int: 0 on success, a negative KILN_E* code
 *    on failure (codes are never renumbered). Its last parameter is
 *    `kiln_error **err`: when non-NULL and the call fails, *err receives an
 *    error object owned by the caller (free with kiln_error_free). There is
 *    no thread-local "last error" (Go moves goroutines between threads).
 *  - No C++ exception ever leaves a kiln_* function.
 *  - Structured documents (configuration, requests, results, descriptors,
 *    events) cross as UTF-8 JSON text, so new fields never break the ABI.
 *  - Strings returned through `char **out` are owned by the caller and freed
 *    with kiln_free(), never with the caller's own free().
 *  - String parameters are borrowed for the duration of the call only.
 *  - The library never prints; progress and logs arrive as events.
 *  - Handles are safe to use from several threads at once unless a function
 *    says otherwise. Long calls take a kiln_cancel token that any thread may
 *    trigger; the call then returns KILN_ECANCELLED promptly (within about a
 *    second for network transfers) after cleaning up what it created.
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define KILN_EXPORT __declspec(dllexport)
#else
#define KILN_EXPORT __attribute__((visibility("default")))
#endif

/* ---- versions ---------------------------------------------------------- */

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0

/* "0.1.0"; static storage, never freed. */
KILN_EXPORT const char *kiln_version(void);

/* ---- errors ------------------------------------------------------------ */

/* Never renumbered; the same values as kiln::Errc in C++. */
#define KILN_OK 0
#define KILN_EINVAL (-1)         /* bad input: reference, option, document */
#define KILN_ENOTFOUND (-2)      /* manifest, blob, repository, object missing */
#define KILN_EUNAUTHORIZED (-3)  /* no or wrong credentials */
#define KILN_EFORBIDDEN (-4)     /* credentials valid, operation denied */
#define KILN_ECONFLICT (-5)      /* already exists or version conflict */
#define KILN_EUNSUPPORTED (-6)   /* the server cannot do this */
#define KILN_EDIGEST (-7)        /* content did not match its digest */
#define KILN_EIO (-8)            /* local file system error */
#define KILN_ENETWORK (-9)       /* connection, TLS, DNS */
#define KILN_EPROTOCOL (-10)     /* the server broke the protocol */
#define KILN_ECANCELLED (-11)    /* a kiln_cancel token was triggered */
#define KILN_ETIMEOUT (-12)      /* a deadline passed */
#define KILN_ETOOLARGE (-13)     /* a response or input exceeded a cap */
#define KILN_ESERVER (-14)       /* the server failed (5xx after retries) */
#define KILN_EUNAVAILABLE (-15)  /* a service is not ready or read-only */
#define KILN_EBUILD (-16)        /* the build ran and failed */
#define KILN_EOOM (-17)          /* the builder ran out of memory */
#define KILN_EINTERNAL (-99)     /* a kiln bug */

typedef struct kiln_error kiln_error;

/* Accessors borrow from the error: valid until kiln_error_free. */
KILN_EXPORT int kiln_error_code(const kiln_error *err);
KILN_EXPORT const char *kiln_error_message(const kiln_error *err);
/* "not_found", "unauthorized", ... for the code. */
KILN_EXPORT const char *kiln_error_code_name(const kiln_error *err);
/* HTTP status of the response that caused it, 0 if none. */
KILN_EXPORT int kiln_error_http_status(const kiln_error *err);
/* Registry error code ("MANIFEST_UNKNOWN") or Kubernetes reason ("NotFound"); "" if none. */
KILN_EXPORT const char *kiln_error_remote_code(const kiln_error *err);
KILN_EXPORT void kiln_error_free(kiln_error *err);

/* Frees strings returned by the library. NULL is allowed. */
KILN_EXPORT void kiln_free(void *ptr);

/* ---- cancellation ------------------------------------------------------ */

typedef struct kiln_cancel kiln_cancel;

/* Returns NULL only when out of memory. */
KILN_EXPORT kiln_cancel *kiln_cancel_new(void);
/* Any thread, any time, any number of times. */
KILN_EXPORT void kiln_cancel_trigger(kiln_cancel *cancel);
KILN_EXPORT int kiln_cancel_is_triggered(const kiln_cancel *cancel);
/* Only after every call that was given this token has returned. */
KILN_EXPORT void kiln_cancel_free(kiln_cancel *cancel);

/* ---- events ------------------------------------------------------------ */

/* Both strings are borrowed for the duration of the callback. */
typedef struct kiln_event {
  const char *type; /* "blob.progress", "build.log", ... */
  const char *json; /* a JSON object with the details */
} kiln_event;

/* Called on the thread doing the work (one call at a time per operation).
 * Return 0 to continue, non-zero to cancel the operation. */
typedef int (*kiln_event_cb)(const kiln_event *event, void *payload);

/* ==== registry (issue 2) ================================================ */
/*
 * A kiln_registry is one image store: a registry host ("127.0.0.1:5000",
 * "ghcr.io", "docker.io") or an OCI image-layout directory ("oci:<dir>").
 * Images in it are named by a repository ("team/app"; ignored by OCI
 * layouts, pass "") and a reference (a tag, or a digest "sha256:<hex>").
 *
 * Options (JSON object; every field optional; an unknown field or a wrong
 * type is KILN_EINVAL naming it: "options_json: field 'X' must be ..."):
 *   "insecureRegistries": ["host:port", ...]  plain HTTP / unverified TLS allowed
 *   "caFile": "/path/ca.pem"                  extra CA bundle for TLS
 *   "clientCertFile", "clientKeyFile"         PEM client certificate and key
 *   "dockerConfig": "/path/config.json"       credentials (default:
 *                                             $DOCKER_CONFIG/config.json, else
 *                                             ~/.docker/config.json)
 *   "dockerConfigJson": "{\"auths\":...}"     inline .dockerconfigjson payload
 *                                             (used instead of dockerConfig)
 *   "anonymous": true                         send no credentials at all
 *   "chunkSize": 0                            bytes per chunked-upload PATCH;
 *                                             0 streams a blob in one request
 *   "connectTimeoutMs", "maxRetries", "userAgent"
 *   "create": true                            kiln_registry_open only: initialise
 *                                             a missing OCI layout directory
 * kiln_registry_copy also reads:
 *   "parallelBlobs": 4                        blobs copied at the same time
 *   "platforms": ["linux/arm64", ...]         copy only these children of an
 *                                             index (the index is rewritten and
 *                                             gets a new digest)
 *   "extraTags": ["latest", ...]              more tags for the copied manifest
 *
 * Descriptors are OCI descriptor JSON: {"mediaType","digest","size",
 * "platform"?, "annotations"?}.
 */
typedef struct kiln_registry kiln_registry;

/* Opens `location` ("host[:port]" or "oci:<dir>"). *out receives a handle
 * owned by the caller (kiln_registry_free). `options_json` may be NULL.
 * Nothing is contacted until the first operation. */
KILN_EXPORT int kiln_registry_open(const char *location, const char *options_json, kiln_registry **out,
                                   kiln_error **err);
/* NULL-safe. Only after every call using the handle has returned. */
KILN_EXPORT void kiln_registry_free(kiln_registry *registry);

/* The descriptor of a manifest (HEAD with every manifest Accept type).
 * KILN_ENOTFOUND when it does not exist. *descriptor_json: caller frees with
 * kiln_free. `cancel` may be NULL in every call of this section. */
KILN_EXPORT int kiln_registry_resolve(kiln_registry *registry, const char *repository, const char *reference,
                                      kiln_cancel *cancel, char **descriptor_json, kiln_error **err);

/* All tags of a repository as a JSON array of strings (pages followed).
 * *tags_json: caller frees with kiln_free. */
KILN_EXPORT int kiln_registry_tags(kiln_registry *registry, const char *repository, kiln_cancel *cancel,
                                   char **tags_json, kiln_error **err);

/* All repositories as a JSON array of strings (an OCI layout: [""]).
 * *repositories_json: caller frees with kiln_free. */
KILN_EXPORT int kiln_registry_catalog(kiln_registry *registry, kiln_cancel *cancel, char **repositories_json,
                                      kiln_error **err);

/* Deletes the manifest a tag or digest names (a tag is resolved to its
 * digest first; every tag pointing at that digest goes with it). A registry
 * without deletes gives KILN_EUNSUPPORTED. *digest_out (may be NULL): the
 * deleted digest, caller frees with kiln_free. */
KILN_EXPORT int kiln_registry_delete(kiln_registry *registry, const char *repository, const char *reference,
                                     kiln_cancel *cancel, char **digest_out, kiln_error **err);

/* Uploads the file at `path` as a blob. `media_type` may be NULL
 * ("application/octet-stream" in the returned descriptor). A local file
 * that is missing or unreadable is KILN_EIO naming the path. When
 * `expected_digest` is NULL the file is hashed first; otherwise the store
 * verifies it and keeps nothing on a mismatch (KILN_EDIGEST).
 * `expected_size` < 0 means the file's size. A blob the store already has is
 * not uploaded again. *descriptor_json (may be NULL): caller frees with kiln_free. */
KILN_EXPORT int kiln_registry_push_blob_file(kiln_registry *registry, const char *repository, const char *path,
                                             const char *media_type, const char *expected_digest,
                                             int64_t expected_size, kiln_cancel *cancel, char **descriptor_json,
                                             kiln_error **err);

/* Stores `size` bytes of a manifest exactly as given (never re-serialized)
 * under `reference` (a tag, or the bytes' own digest), sent with
 * Content-Type `media_type`. *digest_out (may be NULL): the manifest's
 * digest, caller frees with kiln_free. */
KILN_EXPORT int kiln_registry_put_manifest(kiln_registry *registry, const char *repository, const char *reference,
                                           const char *media_type, const char *bytes, size_t size,
                                           kiln_cancel *cancel, char **digest_out, kiln_error **err);

/* The manifest bytes as stored, verified against their digest. *bytes
 * (NUL-terminated for convenience; *size excludes the NUL) and *media_type:
 * caller frees both with kiln_free. `bytes` and `size` must not be NULL;
 * `media_type` may be NULL when the caller does not want it. KILN_ENOTFOUND
 * when absent. */
KILN_EXPORT int kiln_registry_get_manifest(kiln_registry *registry, const char *repository, const char *reference,
                                           kiln_cancel *cancel, char **bytes, size_t *size, char **media_type,
                                           kiln_error **err);

/* What an image is made of, as JSON: {"mediaType","digest","size",
 * "platform"?, "config"?, "layers"?: [descriptor...], "platforms"?: [{
 * "platform","digest","mediaType","size","config","layers","imageSize"}...],
 * "totalSize"} where totalSize counts each manifest, config and layer once.
 * *inspect_json: caller frees with kiln_free. */
KILN_EXPORT int kiln_registry_inspect(kiln_registry *registry, const char *repository, const char *reference,
                                      kiln_cancel *cancel, char **inspect_json, kiln_error **err);

/* Publishes an image (or an index with all its platforms) from `source` to
 * `destination`, each "oci:<dir>[:<tag>]" or a registry reference
 * ("host/repo:tag", "host/repo@sha256:..."); a missing destination layout is
 * created. Blobs the destination has are skipped, blobs of the same registry
 * are mounted, others are streamed (never held whole in memory), several at
 * once; manifests are copied byte for byte, children first.
 * Events ("blob.start", "blob.progress", "blob.done", "blob.skipped",
 * "blob.mounted", "manifest.put", "copy.done"; JSON with "digest", "size",
 * "bytes", ...) are delivered on kiln's worker threads, one call at a time;
 * `callback` may be NULL; returning non-zero cancels the copy.
 * *result_json (may be NULL): {"digest","mediaType","size","blobsCopied",
 * "blobsMounted","blobsSkipped","bytesCopied","manifestsPut"}; caller frees
 * with kiln_free. */
KILN_EXPORT int kiln_registry_copy(const char *source, const char *destination, const char *options_json,
                                   kiln_event_cb callback, void *payload, kiln_cancel *cancel, char **result_json,
                                   kiln_error **err);
/* ==== end registry ====================================================== */

/* ==== build context (issue 3) =========================================== */
/*
 * A kiln_context is a directory (or a tar archive, or files in memory: see
 * below) about to be sent to a builder: the files `docker build` would send
 * (after .dockerignore, with Docker's exact rules), their content version
 * and the tar stream. See docs/build-context.md.
 *
 * Options (JSON object, every field optional; an unknown field or a wrong
 * type is KILN_EINVAL naming it):
 *   "dockerfile": "Dockerfile"   relative to the root, or an absolute path
 *                                (which may lie outside the root)
 *   "statCache": "/path/file"    stat cache file chosen by the host tool;
 *                                unchanged files are then not read again
 *   "threads": 0                 hashing threads, 0 = one per core
 * Version inputs (JSON object, optional): {"buildArgs": {"K": "V"},
 *   "target": "prod", "platform": "linux/amd64"}.
 * Tar options (JSON object, optional): {"gzip": false, "gzipLevel": 1,
 *   "zeroMtimes": false, "threads": 0}.
 * Events ("context.progress" {"phase": "scan"|"hash"|"tar", "files",
 * "bytes", "total_files", "total_bytes"}, "context.done", "warning") are
 * delivered on the calling thread; a non-zero return cancels the call.
 * A handle serialises calls made on it from several threads. The directory
 * is walked once, on first use; kiln_context_rescan forgets that walk.
 */
typedef struct kiln_context kiln_context;

/* Opens `root`. Missing root or Dockerfile: KILN_ENOTFOUND; a Dockerfile
 * path leaving the root or a malformed .dockerignore: KILN_EINVAL.
 * `options_json` may be NULL. *out: owned by the caller (kiln_context_free). */
KILN_EXPORT int kiln_context_open(const char *root, const char *options_json, kiln_context **out, kiln_error **err);
/* NULL-safe. Only after every call using the handle has returned. */
KILN_EXPORT void kiln_context_free(kiln_context *context);
/* Forgets the last walk: the next call sees the directory as it is now. */
KILN_EXPORT void kiln_context_rescan(kiln_context *context);

/* The entries sent, in stream order, as JSON: {"dockerfile": "<path in the
 * stream>", "ignorePatterns": [...], "entries": [{"path", "type":
 * "file"|"dir"|"symlink", "mode", "size", "mtime", "linkTarget"?, "forced"}]}
 * ("forced": ignored by the patterns but sent, as Docker sends the
 * Dockerfile and .dockerignore; "ignorePatterns": the normalised patterns
 * in file order, for every kind of context).
 * `callback`, `payload`, `cancel` may be NULL.
 * *files_json: caller frees with kiln_free. */
KILN_EXPORT int kiln_context_files(kiln_context *context, kiln_event_cb callback, void *payload, kiln_cancel *cancel,
                                   char **files_json, kiln_error **err);

/* The content version: {"version": "v-<10 hex>", "digest": "sha256:<hex>",
 * "filesHashed": n}. `inputs_json` may be NULL. Unreadable files and files
 * changing while read are KILN_EIO naming the path.
 * *version_json: caller frees with kiln_free. */
KILN_EXPORT int kiln_context_version(kiln_context *context, const char *inputs_json, kiln_event_cb callback,
                                     void *payload, kiln_cancel *cancel, char **version_json, kiln_error **err);

/* Writes the tar stream (gzip'd when asked) to `fd`, which stays open and
 * owned by the caller. On any error the bytes written so far are not a
 * complete archive and must be discarded. */
KILN_EXPORT int kiln_context_write_fd(kiln_context *context, int fd, const char *tar_options_json,
                                      kiln_event_cb callback, void *payload, kiln_cancel *cancel, kiln_error **err);

/* Receives a byte stream in chunks on the calling thread; `data` is
 * borrowed for the duration of the call. Return 0 to continue, non-zero to
 * refuse the data: the call then fails with KILN_EIO, as a failed write to
 * a file descriptor does (KILN_ECANCELLED is only for a kiln_cancel token
 * or an event callback asking to stop). */
typedef int (*kiln_write_cb)(const void *data, size_t size, void *payload);

/* As kiln_context_write_fd, into `write` (not NULL). */
KILN_EXPORT int kiln_context_write_cb(kiln_context *context, kiln_write_cb write, void *write_payload,
                                      const char *tar_options_json, kiln_event_cb callback, void *payload,
                                      kiln_cancel *cancel, kiln_error **err);

/* ---- tarball and in-memory contexts ------------------------------------ */
/*
 * The same tree given as a tar archive or as files in memory. Every
 * kiln_context_* function above works on these handles unchanged and gives
 * the entries, version and stream a directory with the same files gives
 * (its .dockerignore applies; paths, types, the executable bit and contents
 * decide the version, mtimes do not). Differences: kiln_context_rescan does
 * nothing (the content cannot change), the options have no "statCache" or
 * "threads", and the Dockerfile must be a relative path inside the context.
 *
 * Tarball options (JSON object, optional): {"dockerfile": "Dockerfile",
 *   "maxBytes": 4294967296} (uncompressed archive size limit).
 * A plain or gzip'd archive (detected by its magic bytes), e.g. made by
 * `tar -cf - -C DIR .`; hard links become regular files, devices and FIFOs
 * are skipped with a "warning" event. The archive is read into memory.
 * Errors: missing file KILN_ENOTFOUND; a corrupt or truncated archive, a
 * member leaving the context ("..", absolute) KILN_EINVAL naming the
 * member; beyond maxBytes KILN_ETOOLARGE; missing Dockerfile KILN_ENOTFOUND.
 * *out: owned by the caller (kiln_context_free).
 */
KILN_EXPORT int kiln_context_open_tarball(const char *path, const char *options_json, kiln_context **out,
                                          kiln_error **err);
/* As kiln_context_open_tarball from `size` bytes at `data` (NULL only when
 * size is 0), which are copied: the caller may free them on return. */
KILN_EXPORT int kiln_context_open_tarball_data(const void *data, size_t size, const char *options_json,
                                               kiln_context **out, kiln_error **err);

/*
 * kiln_files collects files for an in-memory context:
 *
 *   kiln_files *f = kiln_files_new();
 *   kiln_files_add(f, "Dockerfile", text, strlen(text), 0644, 0, &err);
 *   kiln_files_add_symlink(f, "latest", "v1/app", 0, &err);
 *   kiln_context_open_files(f, NULL, &ctx, &err);
 *   kiln_files_free(f);
 *
 * Paths are relative and '/'-separated; parent directories are implied
 * (mode 0755, mtime 0) unless added with kiln_files_add_dir. Adding a path
 * again replaces the earlier file. Every add copies `path` and the bytes
 * (or link target): the caller's buffers are borrowed only for the call.
 * Paths are checked when the context is opened: an absolute path, one
 * leaving the context (".."), one that is not UTF-8, or a file below a
 * file is KILN_EINVAL naming the path. `mode` is permission bits (at most
 * 07777, else KILN_EINVAL); `mtime` is seconds since the epoch, sent in the
 * tar (not part of the version).
 * A kiln_files is not safe to use from several threads at once (unlike
 * handles); the caller serialises. It stays owned by the caller and
 * unchanged by kiln_context_open_files, so it may be opened again, added to
 * and opened again, or freed at once.
 */
typedef struct kiln_files kiln_files;

/* An empty set; NULL only when out of memory. Free with kiln_files_free. */
KILN_EXPORT kiln_files *kiln_files_new(void);
/* NULL-safe. Contexts opened from it stay valid (they hold copies). */
KILN_EXPORT void kiln_files_free(kiln_files *files);
/* A regular file of `size` bytes at `data` (NULL only when size is 0). */
KILN_EXPORT int kiln_files_add(kiln_files *files, const char *path, const void *data, size_t size, unsigned mode,
                               int64_t mtime, kiln_error **err);
/* A symlink to `target` (sent verbatim, never followed; not empty). */
KILN_EXPORT int kiln_files_add_symlink(kiln_files *files, const char *path, const char *target, int64_t mtime,
                                       kiln_error **err);
/* A directory (sent even when empty). */
KILN_EXPORT int kiln_files_add_dir(kiln_files *files, const char *path, unsigned mode, int64_t mtime,
                                   kiln_error **err);
/* Opens a context over a copy of `files`. Options (JSON object, optional):
 * {"dockerfile": "Dockerfile"} (a path among the files; missing:
 * KILN_ENOTFOUND). *out: owned by the caller (kiln_context_free). */
KILN_EXPORT int kiln_context_open_files(const kiln_files *files, const char *options_json, kiln_context **out,
                                        kiln_error **err);
/* ==== end build context ================================================= */

/* ==== kubernetes (issue 4) ============================================== */
/*
 * A kiln_kube is a Kubernetes API client for one cluster, user and default
 * namespace, built from a kubeconfig (KUBECONFIG files merged as kubectl
 * does, ~/.kube/config) or, inside a pod, from the service account. Client
 * certificates, bearer tokens, token files, basic auth and exec credential
 * plugins (client.authentication.k8s.io/v1 and v1beta1) are supported; a
 * malformed kubeconfig is KILN_EINVAL naming the file and the field. A
 * cluster's proxy-url (http, https or socks5; its user:password goes
 * to the proxy only) and tls-server-name apply, as in kubectl, to every
 * connection: REST, watch, logs and exec.
 *
 * Objects cross as JSON text, exactly as the API server sends them.
 * Kubernetes Status errors become KILN_* codes: KILN_ENOTFOUND (NotFound),
 * KILN_ECONFLICT (AlreadyExists, Conflict, Expired/Gone), KILN_EINVAL
 * (Invalid, with every field cause in the message; BadRequest),
 * KILN_EUNAUTHORIZED, KILN_EFORBIDDEN, KILN_EUNAVAILABLE (TooManyRequests
 * after retries), KILN_ESERVER; kiln_error_remote_code() gives the reason.
 *
 * Options documents (JSON objects, every field optional; NULL for none; an
 * unknown field or a wrong type is KILN_EINVAL naming it: "options_json:
 * field 'X' must be ..."). kiln_kube_open reads:
 *   "namespace": "builds"        instead of the context's namespace
 *   "fieldValidation": "Strict"  "Strict" (default: unknown fields are
 *                                errors), "Warn" or "Ignore"
 *   "connectTimeoutMs": 30000, "requestTimeoutMs": 120000, "maxRetries": 4,
 *   "userAgent": "kiln/0.1"
 *
 * Handles are thread-safe. In every call `ns` NULL (or "") means the
 * handle's namespace and `cancel` may be NULL. Every callback of this
 * section runs on the thread that made the call, one call at a time, and
 * its string arguments are borrowed for the duration of the callback.
 */
typedef struct kiln_kube kiln_kube;

/* Opens a client. `kubeconfig_path` NULL or "": $KUBECONFIG, else
 * ~/.kube/config, else the in-cluster service account. `context` NULL or "":
 * the current-context. *out receives a handle owned by the caller
 * (kiln_kube_free). Nothing is contacted until the first call. */
KILN_EXPORT int kiln_kube_open(const char *kubeconfig_path, const char *context, const char *options_json,
                               kiln_kube **out, kiln_error **err);
/* NULL-safe. Only after every call using the handle has returned. */
KILN_EXPORT void kiln_kube_free(kiln_kube *kube);

/* The default namespace; borrowed, valid until kiln_kube_free. */
KILN_EXPORT const char *kiln_kube_namespace(const kiln_kube *kube);

/* GET of one object by apiVersion ("v1", "apps/v1"), kind ("Pod") and name.
 * Kinds outside the built-in table are looked up in the server's discovery.
 * *object_json: caller frees with kiln_free. */
KILN_EXPORT int kiln_kube_get(kiln_kube *kube, const char *api_version, const char *kind, const char *ns,
                              const char *name, kiln_cancel *cancel, char **object_json, kiln_error **err);

/* Server-side apply ("make it so") of a JSON object that carries apiVersion,
 * kind and metadata.name; field manager "kiln", conflicts forced. The
 * object's metadata.namespace wins over `ns`. *result_json (may be NULL):
 * the object as stored, caller frees with kiln_free. */
KILN_EXPORT int kiln_kube_apply(kiln_kube *kube, const char *object_json, const char *ns, kiln_cancel *cancel,
                                char **result_json, kiln_error **err);

/* The objects of one kind, as a List document: {"apiVersion", "kind":
 * "<Kind>List", "metadata": {"resourceVersion", "continue"?}, "items":
 * [...]}; "continue" is present while more pages remain. `options_json`
 * may be NULL:
 *   {"labelSelector": "app=web,tier!=db", "fieldSelector": "status.phase=Running",
 *    "limit": 100,           page size (server default when absent)
 *    "continue": "<token>",  the next page (metadata.continue of the last one)
 *    "resourceVersion": "",  as the API server's list parameter
 *    "allNamespaces": false, every namespace (`ns` is then ignored)
 *    "allPages": false}      follow every continue token and return one list
 *                            (pages of "limit", else 500; an expired token
 *                            restarts the listing once)
 * *list_json: caller frees with kiln_free. */
KILN_EXPORT int kiln_kube_list(kiln_kube *kube, const char *api_version, const char *kind, const char *ns,
                               const char *options_json, kiln_cancel *cancel, char **list_json, kiln_error **err);

/* POST of a new object (apiVersion, kind, metadata.name or generateName);
 * KILN_ECONFLICT (AlreadyExists) when it exists. The object's
 * metadata.namespace wins over `ns`. *result_json (may be NULL): the object
 * as stored, caller frees with kiln_free. */
KILN_EXPORT int kiln_kube_create(kiln_kube *kube, const char *object_json, const char *ns, kiln_cancel *cancel,
                                 char **result_json, kiln_error **err);

/* PUT of a whole object over the existing one; with metadata.resourceVersion
 * it is conditional (KILN_ECONFLICT when the object changed since). Otherwise
 * as kiln_kube_create. */
KILN_EXPORT int kiln_kube_replace(kiln_kube *kube, const char *object_json, const char *ns, kiln_cancel *cancel,
                                  char **result_json, kiln_error **err);

/* JSON merge patch (RFC 7386, application/merge-patch+json) of one object:
 * `patch_json` is a JSON object; null values remove fields. *result_json
 * (may be NULL): the patched object, caller frees with kiln_free. */
KILN_EXPORT int kiln_kube_patch(kiln_kube *kube, const char *api_version, const char *kind, const char *ns,
                                const char *name, const char *patch_json, kiln_cancel *cancel, char **result_json,
                                kiln_error **err);

/* DELETE of one object. `options_json` may be NULL:
 *   {"propagationPolicy": "Background"|"Foreground"|"Orphan",
 *    "gracePeriodSeconds": 0, "ignoreNotFound": false}
 * Without ignoreNotFound a missing object is KILN_ENOTFOUND. */
KILN_EXPORT int kiln_kube_delete(kiln_kube *kube, const char *api_version, const char *kind, const char *ns,
                                 const char *name, const char *options_json, kiln_cancel *cancel, kiln_error **err);

/* Watches the objects of one kind. Each change reaches `callback` (not
 * NULL) as a kiln_event whose `type` is "ADDED", "MODIFIED", "DELETED" or
 * "BOOKMARK" and whose `json` is the object (a BOOKMARK carries only
 * metadata.resourceVersion). Return 0 to go on; non-zero ends the watch,
 * and the call returns 0. `options_json` may be NULL:
 *   {"labelSelector", "fieldSelector", "allNamespaces": false,
 *    "resourceVersion": "",     "" (default): the current objects arrive
 *                               first as ADDED, then the changes; otherwise
 *                               only changes after that version
 *    "bookmarks": false,        deliver BOOKMARK events too
 *    "timeoutSeconds": 300,     one watch request's server-side limit; kiln
 *                               then resumes from the last version seen
 *    "deadlineMs": 0,           the whole watch: KILN_ETIMEOUT when it
 *                               passes (0 = no deadline)
 *    "maxReconnectFailures": 6} consecutive failed reconnects before
 *                               KILN_ENETWORK
 * Dropped connections resume from the last version seen. When the server
 * answers 410 Gone (the version is too old), kiln lists again and delivers
 * what changed meanwhile as ADDED/MODIFIED/DELETED, so the callback's view
 * stays complete. kiln_cancel ends the watch with KILN_ECANCELLED.
 * *result_json (may be NULL; set when the call returns 0):
 * {"resourceVersion": last seen (resume from it), "reconnects", "relists"},
 * caller frees with kiln_free. */
KILN_EXPORT int kiln_kube_watch(kiln_kube *kube, const char *api_version, const char *kind, const char *ns,
                                const char *options_json, kiln_event_cb callback, void *payload, kiln_cancel *cancel,
                                char **result_json, kiln_error **err);

/* A container's log, line by line, to `callback` (not NULL):
 *   "pod.log"       {"pod", "namespace", "container", "line" (UTF-8, without
 *                   the newline; invalid bytes become U+FFFD), "restart"
 *                   (the container's restart count for this instance),
 *                   "timestamp"? (RFC 3339, with "timestamps": true)}
 *   "pod.restarted" {"pod", "namespace", "container", "restart"}: a new
 *                   instance of the container starts; its lines follow
 * Return 0 to go on; non-zero stops reading, and the call returns 0.
 * `options_json` may be NULL:
 *   {"container": "",         the pod's only container when absent
 *    "follow": false,         keep reading until the container ends for
 *                             good (a not yet started container is waited
 *                             for; dropped streams resume without repeating
 *                             lines); false: the log as it is now
 *    "followRestarts": true,  with follow, continue with the next instance
 *                             after a restart
 *    "timestamps": false, "previous": false,
 *    "sinceTime": "2024-01-02T03:04:05Z", "sinceSeconds": 60 (by the
 *    server's clock; not together with sinceTime), "tailLines": 10}
 * kiln_cancel ends a followed log with KILN_ECANCELLED. */
KILN_EXPORT int kiln_kube_logs(kiln_kube *kube, const char *ns, const char *pod, const char *options_json,
                               kiln_event_cb callback, void *payload, kiln_cancel *cancel, kiln_error **err);

/* Waits, on a watch, until a pod reaches `until`: "phase=Pending",
 * "phase=Running" (a pod that already Succeeded counts), "phase=Succeeded",
 * "phase=Failed", or "condition=<type>" with status True
 * ("condition=Ready"). A pod that fails while waited for is KILN_EBUILD
 * (KILN_EOOM when OOMKilled; the reason in kiln_error_remote_code); a
 * container that cannot start (ImagePullBackOff, InvalidImageName, config
 * errors) is KILN_EUNAVAILABLE; a missing or deleted pod KILN_ENOTFOUND.
 * `timeout_ms` 0: no deadline, else KILN_ETIMEOUT naming the pod's last
 * state. *pod_json (may be NULL): the pod as it met the wait, caller frees
 * with kiln_free. */
KILN_EXPORT int kiln_kube_wait_pod(kiln_kube *kube, const char *ns, const char *pod, const char *until,
                                   int64_t timeout_ms, kiln_cancel *cancel, char **pod_json, kiln_error **err);

/* Waits until a Deployment's rollout is complete, by kubectl rollout
 * status's rules (newest generation observed, every replica updated and
 * available). ProgressDeadlineExceeded and `timeout_ms` (0: none) are
 * KILN_ETIMEOUT. *deployment_json (may be NULL): caller frees with
 * kiln_free. */
KILN_EXPORT int kiln_kube_wait_rollout(kiln_kube *kube, const char *ns, const char *deployment, int64_t timeout_ms,
                                       kiln_cancel *cancel, char **deployment_json, kiln_error **err);

/* The most kiln_kube_exec collects of each of stdout and stderr (64 MiB). */
#define KILN_KUBE_EXEC_MAX_OUTPUT ((size_t)64 << 20)

/* Runs argv[0..argc) in a container of a pod (no shell; WebSocket
 * v5.channel.k8s.io, else v4). `container` NULL: the pod's only container.
 * `stdin_data` (may be NULL when stdin_size is 0) is streamed to the
 * command's stdin, which is then closed. stdout and stderr are collected
 * in memory: *stdout_data / *stderr_data (each may be NULL to discard;
 * binary, NUL-terminated for convenience, length in *stdout_size /
 * *stderr_size; caller frees with kiln_free). Output beyond
 * KILN_KUBE_EXEC_MAX_OUTPUT on either stream ends the call with
 * KILN_ETOOLARGE (use kiln_kube_exec_stream for more). *exit_code receives
 * the command's exit status; a command that could not start is an error. */
KILN_EXPORT int kiln_kube_exec(kiln_kube *kube, const char *ns, const char *pod, const char *container,
                               const char *const *argv, size_t argc, const void *stdin_data, size_t stdin_size,
                               kiln_cancel *cancel, int *exit_code, char **stdout_data, size_t *stdout_size,
                               char **stderr_data, size_t *stderr_size, kiln_error **err);

/* Supplies input: copy up to `capacity` bytes into `buffer` and store how
 * many in *filled (0 means end of input). Return 0, or non-zero to fail the
 * call with KILN_EIO. */
typedef int (*kiln_read_cb)(void *buffer, size_t capacity, size_t *filled, void *payload);

/* kiln_kube_exec with streams instead of buffers, for any amount of data.
 * `stdin_read` (NULL: the command gets no stdin) is read as the server
 * accepts data, at most about 1 MiB ahead, and stdin is closed at its end
 * (under v4.channel.k8s.io the command never sees end-of-file).
 * `stdout_write` / `stderr_write` (kiln_write_cb; NULL discards) receive
 * the output as it arrives, in chunks of any size; non-zero from any
 * callback fails the call with KILN_EIO. `options_json` may be NULL:
 *   {"tty": false, "timeoutMs": 0 (0 = none; KILN_ETIMEOUT)}
 * *exit_code (not NULL) receives the command's exit status on success. */
KILN_EXPORT int kiln_kube_exec_stream(kiln_kube *kube, const char *ns, const char *pod, const char *container,
                                      const char *const *argv, size_t argc, const char *options_json,
                                      kiln_read_cb stdin_read, void *stdin_payload, kiln_write_cb stdout_write,
                                      void *stdout_payload, kiln_write_cb stderr_write, void *stderr_payload,
                                      kiln_cancel *cancel, int *exit_code, kiln_error **err);
/* ==== end kubernetes ==================================================== */

#ifdef __cplusplus
}
#endif

#endif /* KILN_H */

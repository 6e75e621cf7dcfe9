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
/* [registry section: owned by the registry C API; add declarations here] */
/* ==== end registry ====================================================== */

/* ==== build context (issue 3) =========================================== */
/* [context section: owned by the context C API; add declarations here] */
/* ==== end build context ================================================= */

/* ==== kubernetes (issue 4) ============================================== */
/* [kube section: owned by the kube C API; add declarations here] */
/* ==== end kubernetes ==================================================== */

#ifdef __cplusplus
}
#endif

#endif /* KILN_H */

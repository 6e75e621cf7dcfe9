/* The registry section of kiln.h, used from C99 exactly as a host would:
 * only kiln.h, only its documented ownership rules. An OCI layout needs no
 * service; with KILN_TEST_REGISTRY set (tests/services/up) the same calls run
 * against the real registry too (required under CI=true). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln.h"

static int failures = 0;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                         \
    }                                                                     \
  } while (0)

/* Checks a status; prints and frees the error. */
static int ok(int status, kiln_error *err, int line) {
  if (status != KILN_OK) {
    fprintf(stderr, "line %d: status %d (%s): %s\n", line, status, kiln_error_code_name(err), kiln_error_message(err));
    failures++;
  }
  kiln_error_free(err);
  return status == KILN_OK;
}
#define OK(call) ok((call), err, __LINE__)

static void write_file(const char *path, const char *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size) {
    perror(path);
    exit(2);
  }
  fclose(f);
}

/* "sha256:..." from a descriptor JSON, copied into out (72 bytes). */
static void digest_of(const char *descriptor, char *out) {
  const char *p = strstr(descriptor, "\"digest\":\"");
  out[0] = '\0';
  if (!p) return;
  p += 10;
  strncpy(out, p, 71);
  out[71] = '\0';
}

struct counts {
  int start, done, skipped, mounted, manifest, copy_done, cancel_at_start;
};

static int on_event(const kiln_event *event, void *payload) {
  struct counts *c = (struct counts *)payload;
  CHECK(event->json[0] == '{');
  if (strcmp(event->type, "blob.start") == 0) {
    c->start++;
    if (c->cancel_at_start) return 1;
  } else if (strcmp(event->type, "blob.done") == 0) {
    c->done++;
  } else if (strcmp(event->type, "blob.mounted") == 0) {
    c->mounted++;
  } else if (strcmp(event->type, "blob.skipped") == 0) {
    c->skipped++;
  } else if (strcmp(event->type, "manifest.put") == 0) {
    c->manifest++;
  } else if (strcmp(event->type, "copy.done") == 0) {
    c->copy_done++;
  }
  return 0;
}

/* Builds a one-layer image in `registry`/`repository` tagged `tag`; returns
 * the manifest digest in `manifest_digest` (72 bytes). */
static void make_image(kiln_registry *registry, const char *repository, const char *dir, const char *tag,
                       char *manifest_digest) {
  kiln_error *err = NULL;
  char layer_path[512], config_path[512], layer_digest[72], config_digest[72];
  char *layer_desc = NULL, *config_desc = NULL, *digest = NULL;
  char manifest[2048];
  static char layer[100000];
  char config[256];
  size_t i;
  /* unique per run: a registry keeps blobs of earlier runs */
  for (i = 0; i < sizeof layer; i++) layer[i] = (char)(rand() & 0xff);
  snprintf(config, sizeof config,
           "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},"
           "\"author\":\"capi test %d %d\"}",
           (int)getpid(), rand());
  snprintf(layer_path, sizeof layer_path, "%s/layer", dir);
  snprintf(config_path, sizeof config_path, "%s/config", dir);
  write_file(layer_path, layer, sizeof layer);
  write_file(config_path, config, strlen(config));

  /* Hashed by kiln (digest NULL), then verified against a given digest. */
  OK(kiln_registry_push_blob_file(registry, repository, layer_path, "application/vnd.oci.image.layer.v1.tar", NULL,
                                  -1, NULL, &layer_desc, &err));
  digest_of(layer_desc, layer_digest);
  CHECK(strncmp(layer_digest, "sha256:", 7) == 0);
  CHECK(strstr(layer_desc, "\"size\":100000") != NULL);
  err = NULL;
  OK(kiln_registry_push_blob_file(registry, repository, config_path, "application/vnd.oci.image.config.v1+json", NULL,
                                  -1, NULL, &config_desc, &err));
  digest_of(config_desc, config_digest);
  err = NULL;
  OK(kiln_registry_push_blob_file(registry, repository, layer_path, NULL, layer_digest, 100000, NULL, NULL, &err));

  snprintf(manifest, sizeof manifest,
           "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":%s,"
           "\"layers\":[%s]}",
           config_desc, layer_desc);
  err = NULL;
  OK(kiln_registry_put_manifest(registry, repository, tag, "application/vnd.oci.image.manifest.v1+json", manifest,
                                strlen(manifest), NULL, &digest, &err));
  strcpy(manifest_digest, digest ? digest : "");
  kiln_free(digest);
  kiln_free(layer_desc);
  kiln_free(config_desc);
}

static void test_errors(const char *dir) {
  kiln_error *err = NULL;
  kiln_registry *registry = NULL;
  char path[512], wrong[72];
  char *out = NULL;
  int status;

  status = kiln_registry_open(NULL, NULL, &registry, &err);
  CHECK(status == KILN_EINVAL && registry == NULL);
  CHECK(strstr(kiln_error_message(err), "location") != NULL);
  kiln_error_free(err);

  status = kiln_registry_open("127.0.0.1:1", "{\"caFiel\":\"x\"}", &registry, &err);
  CHECK(status == KILN_EINVAL);
  CHECK(strstr(kiln_error_message(err), "caFiel") != NULL);
  kiln_error_free(err);

  status = kiln_registry_open("127.0.0.1:1", "{\"insecureRegistries\":\"x\"}", &registry, &err);
  CHECK(status == KILN_EINVAL);
  CHECK(strstr(kiln_error_message(err), "insecureRegistries") != NULL);
  kiln_error_free(err);

  status = kiln_registry_open("127.0.0.1:1", "[1,", &registry, &err);
  CHECK(status == KILN_EINVAL);
  kiln_error_free(err);

  snprintf(path, sizeof path, "oci:%s/absent", dir);
  status = kiln_registry_open(path, NULL, &registry, &err);
  CHECK(status == KILN_ENOTFOUND);
  kiln_error_free(err);

  /* A wrong expected digest stores nothing. */
  snprintf(path, sizeof path, "oci:%s/errs", dir);
  err = NULL;
  if (!OK(kiln_registry_open(path, "{\"create\":true}", &registry, &err))) return;
  snprintf(path, sizeof path, "%s/blob", dir);
  write_file(path, "hello", 5);
  strcpy(wrong, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
  status = kiln_registry_push_blob_file(registry, "", path, NULL, wrong, -1, NULL, &out, &err);
  CHECK(status == KILN_EDIGEST);
  CHECK(out == NULL);
  kiln_error_free(err);
  status = kiln_registry_push_blob_file(registry, "", path, NULL, NULL, 4, NULL, &out, &err);
  CHECK(status == KILN_EDIGEST);
  kiln_error_free(err);
  /* A missing local file is a file error, not a missing blob. */
  snprintf(path, sizeof path, "%s/no-such-file", dir);
  status = kiln_registry_push_blob_file(registry, "", path, NULL, NULL, -1, NULL, &out, &err);
  CHECK(status == KILN_EIO);
  CHECK(strstr(kiln_error_message(err), "no-such-file") != NULL);
  kiln_error_free(err);
  status = kiln_registry_push_blob_file(registry, "", path, NULL, wrong, -1, NULL, &out, &err);
  CHECK(status == KILN_EIO);
  kiln_error_free(err);
  status = kiln_registry_resolve(registry, "", "nope", NULL, &out, &err);
  CHECK(status == KILN_ENOTFOUND);
  CHECK(strstr(kiln_error_message(err), "nope") != NULL);
  kiln_error_free(err);
  status = kiln_registry_put_manifest(registry, "", "t", "application/vnd.oci.image.manifest.v1+json", "{", 1, NULL,
                                      NULL, &err);
  CHECK(status == KILN_EINVAL);
  kiln_error_free(err);
  status = kiln_registry_tags(NULL, "", NULL, &out, &err);
  CHECK(status == KILN_EINVAL);
  kiln_error_free(err);
  kiln_registry_free(registry);
  kiln_registry_free(NULL);
}

static void test_store(const char *location, const char *repository, const char *dir, const char *copy_to) {
  kiln_error *err = NULL;
  kiln_registry *registry = NULL;
  char digest[72];
  char *json = NULL, *bytes = NULL, *media_type = NULL, *deleted = NULL;
  char source[600];
  size_t size = 0;
  struct counts counts;
  kiln_cancel *cancel;
  int status;

  if (!OK(kiln_registry_open(location, "{\"create\":true}", &registry, &err))) return;
  make_image(registry, repository, dir, "1.0", digest);

  err = NULL;
  if (OK(kiln_registry_resolve(registry, repository, "1.0", NULL, &json, &err))) {
    CHECK(strstr(json, digest) != NULL);
    CHECK(strstr(json, "application/vnd.oci.image.manifest.v1+json") != NULL);
  }
  kiln_free(json);
  err = NULL;
  if (OK(kiln_registry_tags(registry, repository, NULL, &json, &err))) CHECK(strstr(json, "\"1.0\"") != NULL);
  kiln_free(json);
  err = NULL;
  if (OK(kiln_registry_get_manifest(registry, repository, digest, NULL, &bytes, &size, &media_type, &err))) {
    CHECK(size == strlen(bytes));
    CHECK(strcmp(media_type, "application/vnd.oci.image.manifest.v1+json") == 0);
  }
  kiln_free(bytes);
  kiln_free(media_type);
  err = NULL;
  if (OK(kiln_registry_inspect(registry, repository, "1.0", NULL, &json, &err))) {
    CHECK(strstr(json, "\"platform\":\"linux/amd64\"") != NULL);
    CHECK(strstr(json, "\"size\":100000") != NULL);
  }
  kiln_free(json);

  /* copy with events, then again (all skipped), then cancelled by the callback */
  if (strncmp(location, "oci:", 4) == 0) {
    snprintf(source, sizeof source, "%s:1.0", location);
  } else {
    snprintf(source, sizeof source, "%s/%s:1.0", location, repository);
  }
  memset(&counts, 0, sizeof counts);
  err = NULL;
  if (OK(kiln_registry_copy(source, copy_to, "{\"parallelBlobs\":2,\"extraTags\":[\"extra\"]}", on_event, &counts,
                            NULL, &json, &err))) {
    CHECK(strstr(json, digest) != NULL);
    /* within one registry the blobs are mounted, between stores copied */
    CHECK(strstr(json, "\"blobsCopied\":2") != NULL || strstr(json, "\"blobsMounted\":2") != NULL);
  }
  kiln_free(json);
  CHECK((counts.start == 2 && counts.done == 2) || counts.mounted == 2);
  CHECK(counts.manifest == 2 && counts.copy_done == 1);
  memset(&counts, 0, sizeof counts);
  err = NULL;
  OK(kiln_registry_copy(source, copy_to, NULL, on_event, &counts, NULL, NULL, &err));
  CHECK(counts.skipped == 2 && counts.start == 0);

  cancel = kiln_cancel_new();
  kiln_cancel_trigger(cancel);
  status = kiln_registry_copy(source, copy_to, NULL, NULL, NULL, cancel, &json, &err);
  CHECK(status == KILN_ECANCELLED);
  CHECK(json == NULL);
  kiln_error_free(err);
  kiln_cancel_free(cancel);

  status = kiln_registry_copy(source, copy_to, "{\"platforms\":[\"linux\"]}", NULL, NULL, NULL, NULL, &err);
  CHECK(status == KILN_EINVAL);
  kiln_error_free(err);

  err = NULL;
  if (OK(kiln_registry_delete(registry, repository, "1.0", NULL, &deleted, &err))) CHECK(strcmp(deleted, digest) == 0);
  kiln_free(deleted);
  status = kiln_registry_resolve(registry, repository, "1.0", NULL, &json, &err);
  CHECK(status == KILN_ENOTFOUND);
  kiln_error_free(err);
  kiln_registry_free(registry);
}

int main(void) {
  char dir[] = "/tmp/kiln-capi-XXXXXX";
  char location[600], copy_to[600], command[700];
  const char *remote = getenv("KILN_TEST_REGISTRY");
  const char *ci = getenv("CI");
  if (!mkdtemp(dir)) return 2;
  srand((unsigned)time(NULL) ^ (unsigned)getpid());

  test_errors(dir);
  snprintf(location, sizeof location, "oci:%s/layout", dir);
  snprintf(copy_to, sizeof copy_to, "oci:%s/copy:2.0", dir);
  test_store(location, "", dir, copy_to);

  if (remote && *remote) {
    snprintf(location, sizeof location, "%s", remote);
    snprintf(copy_to, sizeof copy_to, "%s/kiln-capi/copy:%d", remote, (int)getpid());
    test_store(location, "kiln-capi/src", dir, copy_to);
  } else if (ci && strcmp(ci, "true") == 0) {
    fprintf(stderr, "CI=true but KILN_TEST_REGISTRY is not set: eval \"$(tests/services/up)\" first\n");
    failures++;
  } else {
    fprintf(stderr, "note: KILN_TEST_REGISTRY not set; only the OCI layout part ran\n");
  }

  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}

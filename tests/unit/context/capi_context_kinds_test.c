/* Tarball and in-memory contexts through kiln.h from C99: the same tree as a
 * directory, as archives made by GNU tar and as kiln_files gives the same
 * entries and version; the stream of a memory context holds exactly its
 * files (read back with `tar -t`); bad input is refused naming the problem.
 * usage: capi_context_kinds_test (needs GNU tar on PATH) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln.h"

static int failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

static const char dockerfile[] = "FROM scratch\nCOPY . /ctx/\n";
static const char ignore[] = "*.log\n";
static const char app[] = "int main(void) { return 0; }\n";
static const char run[] = "#!/bin/sh\nexec ./app\n";

static void write_file(const char *dir, const char *name, const char *text, mode_t mode) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

static char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  char *data;
  long n;
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = malloc((size_t)n + 1);
  if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) exit(2);
  fclose(f);
  *size = (size_t)n;
  return data;
}

static void run_or_die(const char *command) {
  if (system(command) != 0) {
    fprintf(stderr, "command failed: %s\n", command);
    exit(2);
  }
}

/* "path type\n" per entry, in stream order, from kiln_context_files' JSON
 * (entries are objects whose first fields are "path" then "type"). */
static void entry_list(kiln_context *ctx, char *out, size_t cap) {
  char *json = NULL;
  kiln_error *err = NULL;
  const char *p;
  size_t used = 0;
  out[0] = '\0';
  if (kiln_context_files(ctx, NULL, NULL, NULL, &json, &err) != KILN_OK) {
    fprintf(stderr, "files: %s\n", kiln_error_message(err));
    kiln_error_free(err);
    ++failures;
    return;
  }
  for (p = strstr(json, "{\"path\":\""); p; p = strstr(p, "{\"path\":\"")) {
    const char *path = p + 9;
    const char *end = strchr(path, '"');
    const char *type = strstr(end, "\"type\":\"");
    const char *type_end;
    if (!type) break;
    type += 8;
    type_end = strchr(type, '"');
    used += (size_t)snprintf(out + used, cap - used, "%.*s %.*s\n", (int)(end - path), path,
                             (int)(type_end - type), type);
    if (used >= cap) break;
    p = type_end;
  }
  kiln_free(json);
}

static void version_of(kiln_context *ctx, char *out, size_t cap) {
  char *json = NULL;
  kiln_error *err = NULL;
  out[0] = '\0';
  if (kiln_context_version(ctx, "{\"target\": \"prod\"}", NULL, NULL, NULL, &json, &err) != KILN_OK) {
    fprintf(stderr, "version: %s\n", kiln_error_message(err));
    kiln_error_free(err);
    ++failures;
    return;
  }
  snprintf(out, cap, "%s", json);
  kiln_free(json);
}

static kiln_files *tree_files(void) {
  kiln_files *f = kiln_files_new();
  kiln_error *err = NULL;
  CHECK(f != NULL);
  CHECK(kiln_files_add(f, "Dockerfile", dockerfile, strlen(dockerfile), 0644, 1700000000, &err) == KILN_OK);
  CHECK(kiln_files_add(f, ".dockerignore", ignore, strlen(ignore), 0644, 0, &err) == KILN_OK);
  CHECK(kiln_files_add(f, "debug.log", "noise", 5, 0644, 0, &err) == KILN_OK);
  CHECK(kiln_files_add(f, "src/app.c", app, strlen(app), 0644, 0, &err) == KILN_OK);
  CHECK(kiln_files_add(f, "src/run.sh", run, strlen(run), 0755, 0, &err) == KILN_OK);
  CHECK(kiln_files_add(f, "empty", NULL, 0, 0600, 0, &err) == KILN_OK);
  CHECK(kiln_files_add_symlink(f, "latest", "src/app.c", 0, &err) == KILN_OK);
  CHECK(kiln_files_add_dir(f, "cache", 0755, 0, &err) == KILN_OK);
  return f;
}

/* A one-member ustar archive whose member is named `name`. */
static void ustar_with(const char *name, char block[1536]) {
  unsigned sum = 0;
  size_t i;
  memset(block, 0, 1536);
  strncpy(block, name, 99);
  memcpy(block + 100, "0000644", 7);
  memcpy(block + 108, "0000000", 7);
  memcpy(block + 116, "0000000", 7);
  memcpy(block + 124, "00000000000", 11);
  memcpy(block + 136, "00000000000", 11);
  block[156] = '0';
  memcpy(block + 257, "ustar", 6);
  memcpy(block + 263, "00", 2);
  memset(block + 148, ' ', 8);
  for (i = 0; i < 512; ++i) sum += (unsigned char)block[i];
  snprintf(block + 148, 8, "%06o", sum);
}

/* Takes the error by address: it is read after the call it belongs to. */
static int expect_error(int rc, kiln_error **errp, int code, const char *needle) {
  kiln_error *err = *errp;
  int ok = rc == code && err != NULL && strstr(kiln_error_message(err), needle) != NULL;
  if (!ok) {
    fprintf(stderr, "expected %d containing '%s', got %d: %s\n", code, needle, rc,
            err ? kiln_error_message(err) : "(no error)");
  }
  kiln_error_free(err);
  *errp = NULL;
  return ok;
}

struct counter {
  size_t bytes;
  int done_events;
};

static int on_write(const void *data, size_t size, void *payload) {
  (void)data;
  ((struct counter *)payload)->bytes += size;
  return 0;
}

static int on_event(const kiln_event *event, void *payload) {
  if (strcmp(event->type, "context.done") == 0) ((struct counter *)payload)->done_events++;
  return 0;
}

int main(void) {
  char dir[] = "/tmp/kiln-capi-kinds-XXXXXX";
  char tree[4200], path[4300], command[9000];
  char dir_list[4096], list[4096], dir_version[512], version[512];
  kiln_context *ctx = NULL, *again = NULL;
  kiln_files *files;
  kiln_error *err = NULL;
  kiln_cancel *cancel;
  struct counter counter = {0, 0};
  char *data;
  size_t size;
  char block[1536];
  FILE *listing;
  char line[1024];
  char streamed[4096];
  size_t used = 0;
  int rc;

  umask(022);
  if (!mkdtemp(dir)) return 2;
  snprintf(tree, sizeof tree, "%s/tree", dir);
  mkdir(tree, 0755);
  snprintf(path, sizeof path, "%s/src", tree);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/cache", tree);
  mkdir(path, 0755);
  write_file(tree, "Dockerfile", dockerfile, 0644);
  write_file(tree, ".dockerignore", ignore, 0644);
  write_file(tree, "debug.log", "noise", 0644);
  write_file(tree, "src/app.c", app, 0644);
  write_file(tree, "src/run.sh", run, 0755);
  write_file(tree, "empty", "", 0600);
  snprintf(path, sizeof path, "%s/latest", tree);
  if (symlink("src/app.c", path) != 0) return 2;
  snprintf(command, sizeof command, "tar -cf %s/ctx.tar -C %s . && tar -czf %s/ctx.tar.gz -C %s .", dir, tree, dir,
           tree);
  run_or_die(command);

  /* the directory is the reference */
  CHECK(kiln_context_open(tree, NULL, &ctx, &err) == KILN_OK);
  entry_list(ctx, dir_list, sizeof dir_list);
  version_of(ctx, dir_version, sizeof dir_version);
  kiln_context_free(ctx);
  CHECK(strcmp(dir_list,
               ".dockerignore file\nDockerfile file\ncache dir\nempty file\nlatest symlink\nsrc dir\n"
               "src/app.c file\nsrc/run.sh file\n") == 0);
  CHECK(strstr(dir_version, "\"version\":\"v-") != NULL);

  /* GNU tar archives, plain and gzip'd, from a path and from memory */
  snprintf(path, sizeof path, "%s/ctx.tar", dir);
  CHECK(kiln_context_open_tarball(path, "{\"dockerfile\": \"Dockerfile\"}", &ctx, &err) == KILN_OK);
  entry_list(ctx, list, sizeof list);
  CHECK(strcmp(list, dir_list) == 0);
  version_of(ctx, version, sizeof version);
  CHECK(strcmp(version, dir_version) == 0);
  kiln_context_rescan(ctx); /* nothing to forget; must not disturb the handle */
  version_of(ctx, version, sizeof version);
  CHECK(strcmp(version, dir_version) == 0);
  kiln_context_free(ctx);

  snprintf(path, sizeof path, "%s/ctx.tar.gz", dir);
  CHECK(kiln_context_open_tarball(path, NULL, &ctx, &err) == KILN_OK);
  entry_list(ctx, list, sizeof list);
  CHECK(strcmp(list, dir_list) == 0);
  version_of(ctx, version, sizeof version);
  CHECK(strcmp(version, dir_version) == 0);
  cancel = kiln_cancel_new();
  kiln_cancel_trigger(cancel);
  CHECK(kiln_context_write_cb(ctx, on_write, &counter, NULL, NULL, NULL, cancel, &err) == KILN_ECANCELLED);
  kiln_error_free(err);
  err = NULL;
  kiln_cancel_free(cancel);
  kiln_context_free(ctx);

  data = read_all(path, &size);
  CHECK(kiln_context_open_tarball_data(data, size, NULL, &ctx, &err) == KILN_OK);
  memset(data, 0, size); /* the bytes were copied */
  entry_list(ctx, list, sizeof list);
  CHECK(strcmp(list, dir_list) == 0);
  version_of(ctx, version, sizeof version);
  CHECK(strcmp(version, dir_version) == 0);
  kiln_context_free(ctx);

  /* a truncated gzip stream and a corrupt archive */
  free(data);
  data = read_all(path, &size);
  CHECK(expect_error(kiln_context_open_tarball_data(data, size / 2, NULL, &ctx, &err), &err, KILN_EINVAL,
                     "truncated"));
  err = NULL;
  CHECK(ctx == NULL);
  free(data);
  snprintf(path, sizeof path, "%s/ctx.tar", dir);
  data = read_all(path, &size);
  memset(data + 100, 'x', 50); /* mode, owner, size and checksum of the first header */
  CHECK(expect_error(kiln_context_open_tarball_data(data, size, NULL, &ctx, &err), &err, KILN_EINVAL,
                     "malformed tar archive"));
  err = NULL;
  CHECK(expect_error(kiln_context_open_tarball_data(data, size, "{\"maxBytes\": 512}", &ctx, &err), &err,
                     KILN_ETOOLARGE, "limit"));
  err = NULL;
  free(data);
  CHECK(expect_error(kiln_context_open_tarball(path, "{\"statCache\": \"/tmp/x\"}", &ctx, &err), &err, KILN_EINVAL,
                     "'statCache'"));
  err = NULL;
  CHECK(expect_error(kiln_context_open_tarball(path, "{\"dockerfile\": \"nope/Dockerfile\"}", &ctx, &err), &err,
                     KILN_ENOTFOUND, "nope/Dockerfile"));
  err = NULL;
  snprintf(path, sizeof path, "%s/missing.tar", dir);
  CHECK(expect_error(kiln_context_open_tarball(path, NULL, &ctx, &err), &err, KILN_ENOTFOUND, "missing.tar"));
  err = NULL;
  ustar_with("../evil", block);
  CHECK(expect_error(kiln_context_open_tarball_data(block, sizeof block, NULL, &ctx, &err), &err, KILN_EINVAL,
                     "../evil"));
  err = NULL;
  CHECK(kiln_context_open_tarball_data(NULL, 0, NULL, &ctx, &err) != KILN_OK);
  kiln_error_free(err);
  err = NULL;
  CHECK(kiln_context_open_tarball_data(NULL, 10, NULL, &ctx, NULL) == KILN_EINVAL);
  CHECK(kiln_context_open_tarball(NULL, NULL, &ctx, NULL) == KILN_EINVAL);

  /* the same files in memory */
  files = tree_files();
  CHECK(kiln_context_open_files(files, NULL, &ctx, &err) == KILN_OK);
  entry_list(ctx, list, sizeof list);
  CHECK(strcmp(list, dir_list) == 0);
  version_of(ctx, version, sizeof version);
  CHECK(strcmp(version, dir_version) == 0);

  /* its stream holds exactly its entries */
  snprintf(path, sizeof path, "%s/memory.tar", dir);
  {
    FILE *out = fopen(path, "wb");
    CHECK(out != NULL);
    CHECK(kiln_context_write_fd(ctx, fileno(out), NULL, NULL, NULL, NULL, &err) == KILN_OK);
    fclose(out);
  }
  snprintf(command, sizeof command, "tar -tf %s", path);
  listing = popen(command, "r");
  CHECK(listing != NULL);
  streamed[0] = '\0';
  while (listing && fgets(line, sizeof line, listing)) {
    size_t n = strlen(line);
    if (n > 1 && line[n - 2] == '/') line[n - 2] = '\0'; /* "src/" */
    else if (n > 0) line[n - 1] = '\0';
    used += (size_t)snprintf(streamed + used, sizeof streamed - used, "%s\n", line);
  }
  CHECK(listing && pclose(listing) == 0);
  CHECK(strcmp(streamed, ".dockerignore\nDockerfile\ncache\nempty\nlatest\nsrc\nsrc/app.c\nsrc/run.sh\n") == 0);
  CHECK(kiln_context_write_cb(ctx, on_write, &counter, "{\"gzip\": true}", on_event, &counter, NULL, &err) ==
        KILN_OK);
  CHECK(counter.bytes > 20 && counter.done_events == 1);

  /* the builder is unchanged by open: add a file, open again; the first
   * context keeps its copy after the builder is freed */
  CHECK(kiln_files_add(files, "src/new.c", "x", 1, 0644, 0, &err) == KILN_OK);
  CHECK(kiln_context_open_files(files, "{\"dockerfile\": \"./Dockerfile\"}", &again, &err) == KILN_OK);
  kiln_files_free(files);
  entry_list(again, list, sizeof list);
  CHECK(strstr(list, "src/new.c file\n") != NULL);
  version_of(again, version, sizeof version);
  CHECK(strcmp(version, dir_version) != 0);
  entry_list(ctx, list, sizeof list);
  CHECK(strcmp(list, dir_list) == 0);
  kiln_context_free(again);
  kiln_context_free(ctx);
  ctx = NULL;

  /* bad in-memory input names the path */
  files = kiln_files_new();
  CHECK(kiln_files_add(files, "Dockerfile", dockerfile, strlen(dockerfile), 0644, 0, &err) == KILN_OK);
  CHECK(expect_error(kiln_files_add(files, "big", "x", 1, 010000, 0, &err), &err, KILN_EINVAL, "'big'"));
  err = NULL;
  CHECK(kiln_files_add(files, "a/../../evil", "x", 1, 0644, 0, &err) == KILN_OK);
  rc = kiln_context_open_files(files, NULL, &ctx, &err);
  CHECK(expect_error(rc, &err, KILN_EINVAL, "a/../../evil"));
  err = NULL;
  CHECK(ctx == NULL);
  kiln_files_free(files);

  files = kiln_files_new();
  CHECK(kiln_files_add(files, "/etc/passwd", "x", 1, 0644, 0, &err) == KILN_OK);
  CHECK(expect_error(kiln_context_open_files(files, NULL, &ctx, &err), &err, KILN_EINVAL, "/etc/passwd"));
  err = NULL;
  kiln_files_free(files);

  files = kiln_files_new();
  CHECK(kiln_files_add(files, "app", "x", 1, 0644, 0, &err) == KILN_OK);
  CHECK(expect_error(kiln_context_open_files(files, NULL, &ctx, &err), &err, KILN_ENOTFOUND, "Dockerfile"));
  err = NULL;
  CHECK(expect_error(kiln_context_open_files(files, "{\"threads\": 2}", &ctx, &err), &err, KILN_EINVAL,
                     "'threads'"));
  err = NULL;
  CHECK(kiln_files_add(files, "Dockerfile", dockerfile, strlen(dockerfile), 0644, 0, &err) == KILN_OK);
  CHECK(kiln_files_add(files, "app/inner", "x", 1, 0644, 0, &err) == KILN_OK);
  CHECK(expect_error(kiln_context_open_files(files, NULL, &ctx, &err), &err, KILN_EINVAL, "app"));
  err = NULL;
  CHECK(kiln_files_add_symlink(files, "app", "", 0, &err) == KILN_OK);
  CHECK(expect_error(kiln_context_open_files(files, NULL, &ctx, &err), &err, KILN_EINVAL, "empty target"));
  err = NULL;
  CHECK(kiln_files_add(files, "bad\xff", "x", 1, 0644, 0, &err) == KILN_OK);
  CHECK(kiln_context_open_files(files, NULL, &ctx, &err) == KILN_EINVAL);
  kiln_error_free(err);
  err = NULL;
  kiln_files_free(files);

  /* NULL-safety */
  kiln_files_free(NULL);
  kiln_context_free(NULL);
  kiln_context_rescan(NULL);
  CHECK(kiln_files_add(NULL, "a", "x", 1, 0644, 0, NULL) == KILN_EINVAL);
  CHECK(kiln_files_add_symlink(NULL, "a", "b", 0, NULL) == KILN_EINVAL);
  CHECK(kiln_files_add_dir(NULL, "a", 0755, 0, NULL) == KILN_EINVAL);
  files = kiln_files_new();
  CHECK(kiln_files_add(files, NULL, "x", 1, 0644, 0, NULL) == KILN_EINVAL);
  CHECK(kiln_files_add(files, "a", NULL, 1, 0644, 0, NULL) == KILN_EINVAL);
  CHECK(kiln_files_add_symlink(files, "a", NULL, 0, NULL) == KILN_EINVAL);
  CHECK(kiln_context_open_files(files, NULL, NULL, NULL) == KILN_EINVAL);
  kiln_files_free(files);
  CHECK(kiln_context_open_files(NULL, NULL, &ctx, NULL) == KILN_EINVAL);

  snprintf(command, sizeof command, "rm -rf %s", dir);
  run_or_die(command);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}

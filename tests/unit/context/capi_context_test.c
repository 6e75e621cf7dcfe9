/* The build-context C API from C99, through kiln.h only: ownership, errors,
 * events, cancellation and both writers. usage: capi_context_test */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

static void write_file(const char *dir, const char *name, const char *text) {
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
}

struct counter {
  size_t bytes;
  int events;
  int done_events;
};

static int on_write(const void *data, size_t size, void *payload) {
  struct counter *c = (struct counter *)payload;
  (void)data;
  c->bytes += size;
  return 0;
}

static int on_event(const kiln_event *event, void *payload) {
  struct counter *c = (struct counter *)payload;
  c->events++;
  if (strcmp(event->type, "context.done") == 0) c->done_events++;
  return 0;
}

static int refuse_write(const void *data, size_t size, void *payload) {
  (void)data;
  (void)size;
  (void)payload;
  return 7;
}

static int refuse_event(const kiln_event *event, void *payload) {
  (void)event;
  (void)payload;
  return 1;
}

int main(void) {
  char dir[] = "/tmp/kiln-capi-ctx-XXXXXX";
  char sub[4200];
  kiln_context *ctx = NULL;
  kiln_error *err = NULL;
  char *json = NULL;
  char *version = NULL;
  struct counter counter = {0, 0, 0};
  int pipefd[2];
  char buf[65536];
  ssize_t n;
  size_t piped = 0;
  kiln_cancel *cancel;
  int rc;

  if (!mkdtemp(dir)) return 2;
  snprintf(sub, sizeof sub, "%s/src", dir);
  mkdir(sub, 0755);
  write_file(dir, "Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
  write_file(dir, "src/app.c", "int main(void) { return 0; }\n");
  write_file(dir, ".dockerignore", "*.log\n");
  write_file(dir, "debug.log", "noise");

  /* errors: code, message, NULL-safety */
  rc = kiln_context_open("/nonexistent/kiln", NULL, &ctx, &err);
  CHECK(rc == KILN_ENOTFOUND);
  CHECK(err != NULL && kiln_error_code(err) == KILN_ENOTFOUND);
  CHECK(err != NULL && strstr(kiln_error_message(err), "does not exist") != NULL);
  CHECK(ctx == NULL);
  kiln_error_free(err);
  err = NULL;
  rc = kiln_context_open(dir, "{\"threads\": \"many\"}", &ctx, &err);
  CHECK(rc == KILN_EINVAL);
  CHECK(err != NULL && strstr(kiln_error_message(err), "'threads'") != NULL);
  kiln_error_free(err);
  err = NULL;
  CHECK(kiln_context_open(NULL, NULL, &ctx, NULL) == KILN_EINVAL);
  kiln_context_free(NULL);

  rc = kiln_context_open(dir, "{\"dockerfile\": \"Dockerfile\", \"threads\": 2}", &ctx, &err);
  CHECK(rc == KILN_OK);
  if (rc != KILN_OK) {
    fprintf(stderr, "%s\n", kiln_error_message(err));
    return 1;
  }

  CHECK(kiln_context_files(ctx, NULL, NULL, NULL, &json, &err) == KILN_OK);
  CHECK(json != NULL && strstr(json, "\"path\":\"src/app.c\"") != NULL);
  CHECK(json != NULL && strstr(json, "debug.log") == NULL);
  kiln_free(json);

  CHECK(kiln_context_version(ctx, "{\"buildArgs\": {\"A\": \"1\"}}", NULL, NULL, NULL, &version, &err) == KILN_OK);
  CHECK(version != NULL && strstr(version, "\"version\":\"v-") != NULL);
  CHECK(kiln_context_version(ctx, "{\"nope\": 1}", NULL, NULL, NULL, &json, &err) == KILN_EINVAL);
  kiln_error_free(err);
  err = NULL;
  kiln_free(version);

  CHECK(kiln_context_write_cb(ctx, on_write, &counter, "{\"gzip\": true}", on_event, &counter, NULL, &err) ==
        KILN_OK);
  CHECK(counter.bytes > 20);
  CHECK(counter.done_events == 1);

  /* a pipe: read what the library wrote (small enough for the pipe buffer) */
  CHECK(pipe(pipefd) == 0);
  CHECK(kiln_context_write_fd(ctx, pipefd[1], NULL, NULL, NULL, NULL, &err) == KILN_OK);
  close(pipefd[1]);
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) piped += (size_t)n;
  close(pipefd[0]);
  CHECK(piped % 512 == 0 && piped >= 5 * 512);

  cancel = kiln_cancel_new();
  kiln_cancel_trigger(cancel);
  CHECK(kiln_context_write_cb(ctx, on_write, &counter, NULL, NULL, NULL, cancel, &err) == KILN_ECANCELLED);
  kiln_error_free(err);
  err = NULL;
  kiln_cancel_free(cancel);
  CHECK(kiln_context_write_cb(ctx, on_write, &counter, NULL, refuse_event, NULL, NULL, &err) == KILN_ECANCELLED);
  kiln_error_free(err);
  err = NULL;
  /* A receiver refusing bytes is a failed write, told apart from kiln_cancel. */
  CHECK(kiln_context_write_cb(ctx, refuse_write, NULL, NULL, NULL, NULL, NULL, &err) == KILN_EIO);
  CHECK(err != NULL && strstr(kiln_error_message(err), "returned 7") != NULL);
  kiln_error_free(err);
  err = NULL;
  CHECK(kiln_context_write_cb(ctx, on_write, &counter, "{\"gzip\": 1}", NULL, NULL, NULL, &err) == KILN_EINVAL);
  CHECK(err != NULL && strstr(kiln_error_message(err), "tar_options_json: field 'gzip' must be true or false") != NULL);
  kiln_error_free(err);
  err = NULL;
  CHECK(kiln_context_write_cb(ctx, NULL, NULL, NULL, NULL, NULL, NULL, &err) == KILN_EINVAL);
  kiln_error_free(err);
  err = NULL;
  CHECK(kiln_context_write_fd(ctx, -1, NULL, NULL, NULL, NULL, NULL) == KILN_EINVAL);

  kiln_context_rescan(ctx);
  kiln_context_free(ctx);
  snprintf(buf, sizeof buf, "rm -rf '%s'", dir);
  if (system(buf) != 0) fprintf(stderr, "cleanup failed\n");
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}

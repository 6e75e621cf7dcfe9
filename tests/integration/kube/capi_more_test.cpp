// The kubernetes section of kiln.h beyond get/apply/delete/exec: list with
// paging, create/replace/patch, watch, logs, waits and streaming exec,
// through libkiln.so only, against the test cluster.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "capi_support.hpp"

using capi_test::Cluster;
using capi_test::Err;
using capi_test::Owned;

namespace {

// Bounded polling for a flag another thread sets (never a timed assertion:
// the bound only keeps a broken run from hanging).
bool eventually(const std::atomic<bool>& flag) {
  for (int i = 0; i < 1200 && !flag.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return flag.load();
}

std::string field(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\":\"");
  if (at == std::string::npos) return {};
  at += key.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

std::string configmap(const std::string& name, const std::string& extra = {}) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"(","labels":{"kiln-test":"capi"}},"data":{"k":"v")" + extra + "}}";
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("C API: list pages through many configmaps, and all pages at once") {
  Cluster c("kiln-capi-list");
  for (int i = 0; i < 23; ++i) c.apply(configmap("cm-" + std::to_string(i)));
  c.apply(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"unlabelled"}})");

  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::string options = R"({"labelSelector":"kiln-test=capi","limit":10)" +
                          (token.empty() ? std::string() : R"(,"continue":")" + token + "\"") + "}";
    Owned list;
    Err err;
    REQUIRE_MESSAGE(kiln_kube_list(c.kube, "v1", "ConfigMap", c.ns.c_str(), options.c_str(), nullptr, list.out(),
                                   err.out()) == KILN_OK,
                    err.message());
    auto text = list.str();
    CHECK(text.find("\"kind\":\"ConfigMapList\"") != std::string::npos);
    CHECK(!field(text, "resourceVersion").empty());
    CHECK(count_of(text, "\"name\":\"cm-") <= 10);
    for (auto at = text.find("\"name\":\"cm-"); at != std::string::npos; at = text.find("\"name\":\"cm-", at + 1))
      seen.insert(field(text.substr(at), "name"));
    token = field(text, "continue");
    ++pages;
    REQUIRE(pages < 10);
  } while (!token.empty());
  CHECK(pages == 3);
  CHECK(seen.size() == 23);

  Owned all;
  Err err;
  REQUIRE(kiln_kube_list(c.kube, "v1", "ConfigMap", c.ns.c_str(), R"({"allPages":true,"limit":4})", nullptr,
                         all.out(), err.out()) == KILN_OK);
  CHECK(count_of(all.str(), "\"name\":\"cm-") == 23);
  CHECK(count_of(all.str(), "\"name\":\"unlabelled\"") == 1);
  CHECK(all.str().find("\"continue\"") == std::string::npos);

  CHECK(kiln_kube_list(c.kube, "v1", "ConfigMap", c.ns.c_str(), R"({"limit":"ten"})", nullptr, all.out(),
                       err.out()) == KILN_EINVAL);
  CHECK(err.message().find("options_json: field 'limit' must be an integer") != std::string::npos);
  CHECK(all.p == nullptr);
  CHECK(kiln_kube_list(c.kube, "v1", "ConfigMap", c.ns.c_str(), R"({"allPages":true,"continue":"x"})", nullptr,
                       all.out(), err.out()) == KILN_EINVAL);
  CHECK(kiln_kube_list(c.kube, "v1", "ConfigMap", c.ns.c_str(), R"({"labelSelecter":"a"})", nullptr, all.out(),
                       err.out()) == KILN_EINVAL);
  CHECK(err.message().find("unknown field 'labelSelecter'") != std::string::npos);
  CHECK(kiln_kube_list(c.kube, "v1", "ConfigMap", c.ns.c_str(), nullptr, nullptr, nullptr, err.out()) == KILN_EINVAL);
}

TEST_CASE("C API: create, patch, replace") {
  Cluster c("kiln-capi-write");
  Owned created;
  Err err;
  REQUIRE_MESSAGE(kiln_kube_create(c.kube, configmap("made").c_str(), c.ns.c_str(), nullptr, created.out(),
                                   err.out()) == KILN_OK,
                  err.message());
  auto version = field(created.str(), "resourceVersion");
  CHECK(!version.empty());
  CHECK(kiln_kube_create(c.kube, configmap("made").c_str(), c.ns.c_str(), nullptr, nullptr, err.out()) ==
        KILN_ECONFLICT);
  CHECK(std::string(kiln_error_remote_code(err.e)) == "AlreadyExists");

  Owned patched;
  REQUIRE(kiln_kube_patch(c.kube, "v1", "ConfigMap", c.ns.c_str(), "made", R"({"data":{"k":null,"p":"q"}})", nullptr,
                          patched.out(), err.out()) == KILN_OK);
  CHECK(patched.str().find("\"p\":\"q\"") != std::string::npos);
  CHECK(patched.str().find("\"k\":") == std::string::npos);

  // A replace carrying the old resourceVersion lost the race to the patch.
  std::string stale = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"made","resourceVersion":")" +
                      version + R"("},"data":{"r":"s"}})";
  CHECK(kiln_kube_replace(c.kube, stale.c_str(), c.ns.c_str(), nullptr, nullptr, err.out()) == KILN_ECONFLICT);
  Owned replaced;
  REQUIRE(kiln_kube_replace(c.kube, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"made"},"data":{"r":"s"}})",
                            c.ns.c_str(), nullptr, replaced.out(), err.out()) == KILN_OK);
  Owned got;
  REQUIRE(kiln_kube_get(c.kube, "v1", "ConfigMap", c.ns.c_str(), "made", nullptr, got.out(), err.out()) == KILN_OK);
  CHECK(got.str().find("\"r\":\"s\"") != std::string::npos);
  CHECK(got.str().find("\"p\":") == std::string::npos);

  // The object's namespace wins over `ns`; apiVersion and kind are required.
  std::string elsewhere = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"there","namespace":")" + c.ns +
                          R"("}})";
  REQUIRE(kiln_kube_create(c.kube, elsewhere.c_str(), "default", nullptr, nullptr, err.out()) == KILN_OK);
  REQUIRE(kiln_kube_get(c.kube, "v1", "ConfigMap", c.ns.c_str(), "there", nullptr, got.out(), err.out()) == KILN_OK);
  CHECK(kiln_kube_create(c.kube, R"({"metadata":{"name":"x"}})", c.ns.c_str(), nullptr, nullptr, err.out()) ==
        KILN_EINVAL);
  CHECK(err.message().find("apiVersion and kind") != std::string::npos);
  CHECK(kiln_kube_patch(c.kube, "v1", "ConfigMap", c.ns.c_str(), "made", "[1]", nullptr, nullptr, err.out()) ==
        KILN_EINVAL);
  CHECK(kiln_kube_patch(c.kube, "v1", "ConfigMap", c.ns.c_str(), "absent", "{}", nullptr, nullptr, err.out()) ==
        KILN_ENOTFOUND);
}

namespace {

struct WatchRecord {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> events;  // type, name
  std::atomic<bool> primed{false};                          // saw the seed object
  std::string stop_on;                                      // "DELETED/name" ends the watch
};

int record_watch(const kiln_event* event, void* payload) {
  auto* rec = static_cast<WatchRecord*>(payload);
  std::string type = event->type, name = field(event->json, "name");
  std::lock_guard lock(rec->mutex);
  rec->events.emplace_back(type, name);
  if (name == "seed") rec->primed = true;
  return type + "/" + name == rec->stop_on ? 1 : 0;
}

}  // namespace

TEST_CASE("C API: watch sees ADDED, MODIFIED, DELETED and stops on the callback's word or on cancel") {
  Cluster c("kiln-capi-watch");
  c.apply(configmap("seed"));
  const std::string options = R"({"labelSelector":"kiln-test=capi","timeoutSeconds":30})";

  WatchRecord rec;
  rec.stop_on = "DELETED/w1";
  int status = KILN_EINTERNAL;
  Owned result;
  Err watch_err;
  std::thread watcher([&] {
    status = kiln_kube_watch(c.kube, "v1", "ConfigMap", c.ns.c_str(), options.c_str(), record_watch, &rec, nullptr,
                             result.out(), watch_err.out());
  });
  REQUIRE(eventually(rec.primed));
  Err err;
  REQUIRE(kiln_kube_create(c.kube, configmap("w1").c_str(), c.ns.c_str(), nullptr, nullptr, err.out()) == KILN_OK);
  REQUIRE(kiln_kube_patch(c.kube, "v1", "ConfigMap", c.ns.c_str(), "w1", R"({"data":{"k":"changed"}})", nullptr,
                          nullptr, err.out()) == KILN_OK);
  REQUIRE(kiln_kube_delete(c.kube, "v1", "ConfigMap", c.ns.c_str(), "w1", nullptr, nullptr, err.out()) == KILN_OK);
  watcher.join();
  REQUIRE_MESSAGE(status == KILN_OK, watch_err.message());
  std::vector<std::string> w1;
  for (const auto& [type, name] : rec.events)
    if (name == "w1") w1.push_back(type);
  CHECK(w1 == std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"});
  CHECK(rec.events.front() == std::pair<std::string, std::string>{"ADDED", "seed"});
  auto version = field(result.str(), "resourceVersion");
  CHECK(!version.empty());

  // Resuming from the version the watch ended at: only later changes.
  WatchRecord later;
  later.stop_on = "ADDED/w2";
  REQUIRE(kiln_kube_create(c.kube, configmap("w2").c_str(), c.ns.c_str(), nullptr, nullptr, err.out()) == KILN_OK);
  std::string resume = R"({"labelSelector":"kiln-test=capi","resourceVersion":")" + version + "\"}";
  REQUIRE(kiln_kube_watch(c.kube, "v1", "ConfigMap", c.ns.c_str(), resume.c_str(), record_watch, &later, nullptr,
                          nullptr, err.out()) == KILN_OK);
  REQUIRE(later.events.size() == 1);
  CHECK(later.events[0] == std::pair<std::string, std::string>{"ADDED", "w2"});

  // kiln_cancel from another thread ends a quiet watch with KILN_ECANCELLED.
  WatchRecord quiet;
  kiln_cancel* cancel = kiln_cancel_new();
  std::thread cancelled_watch([&] {
    status = kiln_kube_watch(c.kube, "v1", "ConfigMap", c.ns.c_str(), options.c_str(), record_watch, &quiet, cancel,
                             nullptr, watch_err.out());
  });
  REQUIRE(eventually(quiet.primed));
  kiln_cancel_trigger(cancel);
  cancelled_watch.join();
  kiln_cancel_free(cancel);
  CHECK(status == KILN_ECANCELLED);

  // The overall deadline, and bad input.
  WatchRecord idle;
  CHECK(kiln_kube_watch(c.kube, "v1", "ConfigMap", c.ns.c_str(), R"({"deadlineMs":1500})", record_watch, &idle,
                        nullptr, nullptr, err.out()) == KILN_ETIMEOUT);
  CHECK(kiln_kube_watch(c.kube, "v1", "ConfigMap", c.ns.c_str(), R"({"bookmarks":"yes"})", record_watch, &idle,
                        nullptr, nullptr, err.out()) == KILN_EINVAL);
  CHECK(err.message().find("options_json: field 'bookmarks' must be true or false") != std::string::npos);
  CHECK(kiln_kube_watch(c.kube, "v1", "ConfigMap", c.ns.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr,
                        err.out()) == KILN_EINVAL);
}

namespace {

struct LogRecord {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::vector<std::string> events;  // type + json
  std::atomic<bool> some{false};
  size_t stop_after = 0;  // 0: never stop
};

int record_log(const kiln_event* event, void* payload) {
  auto* rec = static_cast<LogRecord*>(payload);
  std::lock_guard lock(rec->mutex);
  rec->events.push_back(std::string(event->type) + " " + event->json);
  if (std::string(event->type) == "pod.log") rec->lines.push_back(field(event->json, "line"));
  if (rec->lines.size() >= 2) rec->some = true;
  return rec->stop_after && rec->lines.size() >= rec->stop_after ? 1 : 0;
}

long restart_of(const std::string& event) {
  auto at = event.find("\"restart\":");
  return at == std::string::npos ? -1 : std::stol(event.substr(at + 10));
}

}  // namespace

TEST_CASE("C API: logs of a finished pod, a followed pod, a restarted pod") {
  Cluster c("kiln-capi-logs");
  c.pod("printer", "for i in 1 2 3 4 5; do echo line $i; done");
  c.wait_pod("printer", "phase=Succeeded");
  Err err;

  LogRecord all;
  REQUIRE_MESSAGE(kiln_kube_logs(c.kube, c.ns.c_str(), "printer", nullptr, record_log, &all, nullptr, err.out()) ==
                      KILN_OK,
                  err.message());
  CHECK(all.lines == std::vector<std::string>{"line 1", "line 2", "line 3", "line 4", "line 5"});
  REQUIRE(!all.events.empty());
  CHECK(all.events[0].find("\"container\":\"main\"") != std::string::npos);
  CHECK(all.events[0].find("\"restart\":0") != std::string::npos);
  CHECK(all.events[0].find("\"timestamp\"") == std::string::npos);

  LogRecord tail;
  REQUIRE(kiln_kube_logs(c.kube, c.ns.c_str(), "printer", R"({"tailLines":2,"timestamps":true,"container":"main"})",
                         record_log, &tail, nullptr, err.out()) == KILN_OK);
  CHECK(tail.lines == std::vector<std::string>{"line 4", "line 5"});
  CHECK(tail.events[0].find("\"timestamp\":\"") != std::string::npos);
  LogRecord recent;
  REQUIRE(kiln_kube_logs(c.kube, c.ns.c_str(), "printer", R"({"sinceSeconds":3600})", record_log, &recent, nullptr,
                         err.out()) == KILN_OK);
  CHECK(recent.lines.size() == 5);

  // Following a running pod; the callback's non-zero ends it cleanly.
  c.pod("ticker", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done");
  LogRecord followed;
  followed.stop_after = 3;
  REQUIRE_MESSAGE(kiln_kube_logs(c.kube, c.ns.c_str(), "ticker", R"({"follow":true})", record_log, &followed, nullptr,
                                 err.out()) == KILN_OK,
                  err.message());
  CHECK(followed.lines == std::vector<std::string>{"tick 1", "tick 2", "tick 3"});

  // kiln_cancel ends a follow.
  LogRecord endless;
  kiln_cancel* cancel = kiln_cancel_new();
  int status = KILN_EINTERNAL;
  std::thread follower([&] {
    status = kiln_kube_logs(c.kube, c.ns.c_str(), "ticker", R"({"follow":true})", record_log, &endless, cancel,
                            nullptr);
  });
  REQUIRE(eventually(endless.some));
  kiln_cancel_trigger(cancel);
  follower.join();
  kiln_cancel_free(cancel);
  CHECK(status == KILN_ECANCELLED);

  // A container that restarts: its next instance's lines follow a
  // pod.restarted event and carry the new restart count.
  c.pod("restarter", "echo run; sleep 1; exit 1", "OnFailure");
  LogRecord restarts;
  restarts.stop_after = 2;
  REQUIRE_MESSAGE(kiln_kube_logs(c.kube, c.ns.c_str(), "restarter", R"({"follow":true})", record_log, &restarts,
                                 nullptr, err.out()) == KILN_OK,
                  err.message());
  CHECK(restarts.lines == std::vector<std::string>{"run", "run"});
  REQUIRE(restarts.events.size() == 3);
  CHECK(restarts.events[1].rfind("pod.restarted ", 0) == 0);
  // The follow may begin at a later instance than the first; each line
  // carries its own instance's count.
  CHECK(restart_of(restarts.events[2]) == restart_of(restarts.events[0]) + 1);

  CHECK(kiln_kube_logs(c.kube, c.ns.c_str(), "printer", R"({"sinceSeconds":5,"sinceTime":"2020-01-01T00:00:00Z"})",
                       record_log, &all, nullptr, err.out()) == KILN_EINVAL);
  CHECK(kiln_kube_logs(c.kube, c.ns.c_str(), "absent", nullptr, record_log, &all, nullptr, err.out()) ==
        KILN_ENOTFOUND);
}

TEST_CASE("C API: waiting for pods and rollouts") {
  Cluster c("kiln-capi-wait");
  c.pod("sleeper", "sleep 3600");
  Owned pod;
  Err err;
  REQUIRE_MESSAGE(kiln_kube_wait_pod(c.kube, c.ns.c_str(), "sleeper", "condition=Ready", 180000, nullptr, pod.out(),
                                     err.out()) == KILN_OK,
                  err.message());
  CHECK(field(pod.str(), "phase") == "Running");
  c.pod("failing", "exit 3");
  CHECK(kiln_kube_wait_pod(c.kube, c.ns.c_str(), "failing", "phase=Succeeded", 180000, nullptr, nullptr, err.out()) ==
        KILN_EBUILD);
  CHECK(err.message().find("failing") != std::string::npos);
  CHECK(kiln_kube_wait_pod(c.kube, c.ns.c_str(), "sleeper", "Running", 1000, nullptr, nullptr, err.out()) ==
        KILN_EINVAL);
  CHECK(kiln_kube_wait_pod(c.kube, c.ns.c_str(), "sleeper", "phase=Succeeded", 1500, nullptr, nullptr, err.out()) ==
        KILN_ETIMEOUT);
  CHECK(kiln_kube_wait_pod(c.kube, c.ns.c_str(), "absent", "phase=Running", 1000, nullptr, nullptr, err.out()) ==
        KILN_ENOTFOUND);

  c.apply(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":1,)"
          R"("selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{)"
          R"("terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"kiln-test/busybox:latest",)"
          R"("imagePullPolicy":"IfNotPresent","command":["sleep","3600"]}]}}}})");
  Owned deployment;
  REQUIRE_MESSAGE(kiln_kube_wait_rollout(c.kube, c.ns.c_str(), "web", 180000, nullptr, deployment.out(), err.out()) ==
                      KILN_OK,
                  err.message());
  CHECK(deployment.str().find("\"availableReplicas\":1") != std::string::npos);
}

namespace {

// The same pseudo-random bytes on both ends of the stream.
struct Bytes {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  unsigned char next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<unsigned char>(state >> 24);
  }
};

struct StreamState {
  Bytes source, expected;
  size_t to_send = 0, sent = 0, received = 0, mismatches = 0;
  std::string errors;
  bool refuse_stdout = false;
  bool fail_read = false;
};

int read_stdin(void* buffer, size_t capacity, size_t* filled, void* payload) {
  auto* s = static_cast<StreamState*>(payload);
  if (s->fail_read) return 5;
  size_t n = std::min(capacity, s->to_send - s->sent);
  auto* out = static_cast<unsigned char*>(buffer);
  for (size_t i = 0; i < n; ++i) out[i] = s->source.next();
  s->sent += n;
  *filled = n;
  return 0;
}

int check_stdout(const void* data, size_t size, void* payload) {
  auto* s = static_cast<StreamState*>(payload);
  if (s->refuse_stdout) return 9;
  const auto* in = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i)
    if (in[i] != s->expected.next()) ++s->mismatches;
  s->received += size;
  return 0;
}

int collect_stderr(const void* data, size_t size, void* payload) {
  static_cast<StreamState*>(payload)->errors.append(static_cast<const char*>(data), size);
  return 0;
}

}  // namespace

TEST_CASE("C API: streaming exec moves 10 MB byte-exact; callbacks can fail it; buffered output is capped") {
  Cluster c("kiln-capi-exec");
  c.pod("shell", "sleep 3600");
  c.wait_pod("shell", "phase=Running");
  Err err;
  const char* cat[] = {"sh", "-c", "cat; echo done >&2; exit 3"};
  StreamState s;
  s.to_send = 10u << 20;
  int code = -1;
  REQUIRE_MESSAGE(kiln_kube_exec_stream(c.kube, c.ns.c_str(), "shell", nullptr, cat, 3, nullptr, read_stdin, &s,
                                        check_stdout, &s, collect_stderr, &s, nullptr, &code, err.out()) == KILN_OK,
                  err.message());
  CHECK(code == 3);
  CHECK(s.sent == s.to_send);
  CHECK(s.received == s.to_send);
  CHECK(s.mismatches == 0);
  CHECK(s.errors == "done\n");

  // No stdin, output discarded.
  const char* echo[] = {"echo", "hi"};
  code = -1;
  CHECK(kiln_kube_exec_stream(c.kube, c.ns.c_str(), "shell", "main", echo, 2, R"({"timeoutMs":60000})", nullptr,
                              nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, &code, err.out()) == KILN_OK);
  CHECK(code == 0);

  StreamState refusing;
  refusing.to_send = 1000;
  refusing.refuse_stdout = true;
  CHECK(kiln_kube_exec_stream(c.kube, c.ns.c_str(), "shell", nullptr, cat, 3, nullptr, read_stdin, &refusing,
                              check_stdout, &refusing, nullptr, nullptr, nullptr, &code, err.out()) == KILN_EIO);
  CHECK(err.message().find("stdout callback refused") != std::string::npos);
  StreamState failing;
  failing.fail_read = true;
  CHECK(kiln_kube_exec_stream(c.kube, c.ns.c_str(), "shell", nullptr, cat, 3, nullptr, read_stdin, &failing,
                              check_stdout, &failing, nullptr, nullptr, nullptr, &code, err.out()) == KILN_EIO);
  CHECK(err.message().find("stdin callback failed (returned 5)") != std::string::npos);
  CHECK(kiln_kube_exec_stream(c.kube, c.ns.c_str(), "shell", nullptr, cat, 3, R"({"tty":1})", nullptr, nullptr,
                              nullptr, nullptr, nullptr, nullptr, nullptr, &code, err.out()) == KILN_EINVAL);
  CHECK(kiln_kube_exec_stream(c.kube, c.ns.c_str(), "shell", nullptr, cat, 0, nullptr, nullptr, nullptr, nullptr,
                              nullptr, nullptr, nullptr, nullptr, &code, err.out()) == KILN_EINVAL);

  // kiln_kube_exec buffers at most KILN_KUBE_EXEC_MAX_OUTPUT per stream.
  std::string over = "head -c " + std::to_string(KILN_KUBE_EXEC_MAX_OUTPUT + 1) + " /dev/zero";
  const char* flood[] = {"sh", "-c", over.c_str()};
  char* out = nullptr;
  size_t out_size = 0;
  CHECK(kiln_kube_exec(c.kube, c.ns.c_str(), "shell", nullptr, flood, 3, nullptr, 0, nullptr, &code, &out, &out_size,
                       nullptr, nullptr, err.out()) == KILN_ETOOLARGE);
  CHECK(out == nullptr);
  CHECK(err.message().find("64 MiB") != std::string::npos);
  // Discarded output is not buffered, so it has no cap.
  CHECK(kiln_kube_exec(c.kube, c.ns.c_str(), "shell", nullptr, flood, 3, nullptr, 0, nullptr, &code, nullptr, nullptr,
                       nullptr, nullptr, err.out()) == KILN_OK);
}

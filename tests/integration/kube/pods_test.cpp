// Pods: wait helpers, rollout, logs (following restarts) and exec.
#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <thread>

#include "support.hpp"

using namespace kiln::kube;
using kiln::Errc;
using kubetest::client;
using kubetest::json_object;
using kubetest::ns;

namespace {

template <typename F>
kiln::Error error_of(F&& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e;
  }
  FAIL("no error thrown");
  return kiln::Error(Errc::ok, "");
}

// Deterministic bytes: a xorshift stream, so the sender never holds 100 MB.
class PseudoRandom {
 public:
  explicit PseudoRandom(std::uint64_t total) : left_(total) {}
  std::size_t read(char* out, std::size_t size) {
    std::size_t n = std::min<std::uint64_t>(size, left_);
    for (std::size_t i = 0; i < n; ++i) {
      state_ ^= state_ << 13;
      state_ ^= state_ >> 7;
      state_ ^= state_ << 17;
      out[i] = static_cast<char>(state_ & 0xff);
    }
    left_ -= n;
    return n;
  }

 private:
  std::uint64_t left_;
  std::uint64_t state_ = 0x9E3779B97F4A7C15ull;
};

std::string sha256_hex_of_stream(std::uint64_t total) {
  PseudoRandom source(total);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 16);
  while (std::size_t n = source.read(buffer.data(), buffer.size())) EVP_DigestUpdate(ctx, buffer.data(), n);
  unsigned char digest[32];
  EVP_DigestFinal_ex(ctx, digest, nullptr);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  for (unsigned char c : digest) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
  return hex;
}

}  // namespace

TEST_CASE("wait for phase and condition; failures are typed") {
  auto name = kubetest::unique("sleeper");
  client().create(resources::pods, kubetest::pod(name, "sleep 3600"), ns());
  auto running = client().wait_for_pod_phase(name, "Running", std::chrono::seconds(120), ns());
  CHECK(running.at("status").at("phase").as_string() == "Running");
  client().wait_for_pod_condition(name, "Ready", std::chrono::seconds(60), ns());
  auto timeout = error_of([&] { client().wait_for_pod_phase(name, "Succeeded", std::chrono::seconds(1), ns()); });
  CHECK(timeout.code() == Errc::timeout);
  CHECK(std::string(timeout.what()).find("phase Running") != std::string::npos);

  kiln::CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.cancel();
  });
  CHECK(error_of([&] { client().wait_for_pod_phase(name, "Succeeded", std::chrono::seconds(0), ns(), cancel); }).code() ==
        Errc::cancelled);
  canceller.join();

  auto failing = kubetest::unique("failing");
  client().create(resources::pods, kubetest::pod(failing, "echo bye; exit 3"), ns());
  auto failed = error_of([&] { client().wait_for_pod_phase(failing, "Succeeded", std::chrono::seconds(120), ns()); });
  CHECK(failed.code() == Errc::build_failed);
  CHECK(std::string(failed.what()).find("exited with 3") != std::string::npos);

  DeleteOptions now;
  now.grace_period_seconds = 0;
  client().remove(resources::pods, name, now, ns());
  auto gone = error_of([&] { client().wait_for_pod_phase(name, "Succeeded", std::chrono::seconds(60), ns()); });
  CHECK_MESSAGE((gone.code() == Errc::not_found || gone.code() == Errc::build_failed), std::string(gone.what()));
}

TEST_CASE("deployment rollout") {
  auto name = kubetest::unique("web");
  auto deployment = json_object(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
                                R"("},"spec":{"replicas":2,"selector":{"matchLabels":{"app":")" + name +
                                R"("}},"template":{"metadata":{"labels":{"app":")" + name +
                                R"("}},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"kiln-test/busybox:latest","imagePullPolicy":"IfNotPresent","command":["sleep","3600"]}]}}}})");
  client().apply(deployment, {}, ns());
  auto done = client().wait_for_rollout(name, std::chrono::seconds(180), ns());
  CHECK(done.at("status").at("availableReplicas").as_int64() == 2);
  client().remove(resources::deployments, name, {}, ns());
}

TEST_CASE("logs: whole log, tail, and following a pod to its end") {
  auto name = kubetest::unique("talker");
  client().create(resources::pods, kubetest::pod(name, "for i in 1 2 3; do echo line-$i; done; printf 'no-newline'"), ns());
  std::vector<std::string> lines;
  LogOptions follow;
  follow.namespace_name = ns();
  follow.timestamps = true;
  client().follow_logs(name, follow, [&](const kiln::Event& e) {
    CHECK(e.type == "pod.log");
    auto details = boost::json::parse(e.json).as_object();
    CHECK(details.contains("timestamp"));
    lines.emplace_back(details.at("line").as_string());
    return true;
  });
  CHECK(lines == std::vector<std::string>{"line-1", "line-2", "line-3", "no-newline"});
  LogOptions whole;
  whole.namespace_name = ns();
  CHECK(client().logs(name, whole) == "line-1\nline-2\nline-3\nno-newline");
  whole.tail_lines = 1;
  CHECK(client().logs(name, whole) == "no-newline");

  // sinceSeconds is the server's window: the lines were written before the
  // last second, an hour's window has them all.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  LogOptions recent;
  recent.namespace_name = ns();
  recent.since_seconds = 1;
  CHECK(client().logs(name, recent).empty());
  recent.since_seconds = 3600;
  CHECK(client().logs(name, recent) == "line-1\nline-2\nline-3\nno-newline");
  recent.since_time = "2020-01-01T00:00:00Z";
  CHECK_THROWS_AS(client().logs(name, recent), kiln::Error);
}

TEST_CASE("following logs across container restarts") {
  auto name = kubetest::unique("crasher");
  client().create(resources::pods, kubetest::pod(name, "echo hello-from-instance; sleep 1; exit 1", "Always"), ns());
  std::vector<std::int64_t> restarts_seen;
  bool restarted_event = false;
  LogOptions follow;
  follow.namespace_name = ns();
  kiln::CancelToken cancel;
  client().follow_logs(
      name, follow,
      [&](const kiln::Event& e) {
        auto details = boost::json::parse(e.json).as_object();
        if (e.type == "pod.restarted") {
          restarted_event = true;
          return true;
        }
        CHECK(details.at("line").as_string() == "hello-from-instance");
        restarts_seen.push_back(details.at("restart").as_int64());
        return restarts_seen.size() < 2;
      },
      cancel);
  REQUIRE(restarts_seen.size() == 2);
  CHECK(restarts_seen[1] > restarts_seen[0]);
  CHECK(restarted_event);
  DeleteOptions now;
  now.grace_period_seconds = 0;
  client().remove(resources::pods, name, now, ns());
}

TEST_CASE("exec: output, exit codes, errors") {
  auto name = kubetest::unique("shell");
  kubetest::start_pod(name, "sleep 3600");
  std::string out, err;
  ExecRequest request;
  request.namespace_name = ns();
  request.command = {"sh", "-c", "echo out; echo err >&2; exit 7"};
  request.on_stdout = [&](std::string_view d) { out.append(d); };
  request.on_stderr = [&](std::string_view d) { err.append(d); };
  auto result = client().exec(name, request);
  CHECK(result.exit_code == 7);
  CHECK(result.protocol == "v5.channel.k8s.io");
  CHECK(out == "out\n");
  CHECK(err == "err\n");

  request.command = {"true"};
  CHECK(client().exec(name, request).exit_code == 0);

  // A command that cannot start: an error naming it (containerd) or exit
  // 126/127 (Docker), never a silent success.
  request.command = {"kiln-no-such-command"};
  err.clear();
  try {
    auto r = client().exec(name, request);
    CHECK((r.exit_code == 126 || r.exit_code == 127));
  } catch (const kiln::Error& e) {
    CHECK(std::string(e.what()).find("kiln-no-such-command") != std::string::npos);
  }

  INFO("no pod");
  auto no_pod = error_of([&] { client().exec("kiln-no-such-pod", request); });
  CHECK(no_pod.code() == Errc::not_found);

  // Arguments travel as argv, never through a shell.
  out.clear();
  request.command = {"echo", "a b", "$HOME", ";", "'q'"};
  client().exec(name, request);
  CHECK(out == "a b $HOME ; 'q'\n");

  // Cancellation ends a running exec promptly.
  kiln::CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cancel.cancel();
  });
  request.command = {"sleep", "3600"};
  CHECK(error_of([&] { client().exec(name, request, cancel); }).code() == Errc::cancelled);
  canceller.join();
}

TEST_CASE("exec: 100 MB of stdin arrive byte-exact, and stdout streams back") {
  auto name = kubetest::unique("sink");
  kubetest::start_pod(name, "sleep 3600");
  const std::uint64_t total = 100ull << 20;
  PseudoRandom source(total);
  std::string out;
  ExecRequest request;
  request.namespace_name = ns();
  request.command = {"sh", "-c", "sha256sum; echo done >&2"};
  request.stdin_source = [&](char* buffer, std::size_t size) { return source.read(buffer, size); };
  request.on_stdout = [&](std::string_view d) { out.append(d); };
  std::string err;
  request.on_stderr = [&](std::string_view d) { err.append(d); };
  auto result = client().exec(name, request);
  CHECK(result.exit_code == 0);
  CHECK(result.stdin_bytes == total);
  CHECK(out.substr(0, 64) == sha256_hex_of_stream(total));
  CHECK(err == "done\n");

  // Echo 8 MB through cat: stdout is delivered complete and in order.
  const std::uint64_t echo_total = 8ull << 20;
  PseudoRandom again(echo_total);
  PseudoRandom expected_source(echo_total);
  std::string expected(echo_total, '\0');
  expected_source.read(expected.data(), expected.size());
  std::string echoed;
  std::size_t chunks = 0;
  request.command = {"cat"};
  request.stdin_source = [&](char* buffer, std::size_t size) { return again.read(buffer, size); };
  request.on_stdout = [&](std::string_view d) {
    echoed.append(d);
    ++chunks;
  };
  CHECK(client().exec(name, request).exit_code == 0);
  CHECK(echoed.size() == expected.size());
  CHECK(echoed == expected);
  CHECK(chunks > 1);
}

TEST_CASE("following logs of a running pod: events arrive as they are written; cancel stops it") {
  auto name = kubetest::unique("ticker");
  kubetest::start_pod(name, "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done");
  kiln::CancelToken cancel;
  std::vector<std::string> lines;
  LogOptions follow;
  follow.namespace_name = ns();
  auto e = error_of([&] {
    client().follow_logs(
        name, follow,
        [&](const kiln::Event& event) {
          lines.emplace_back(boost::json::parse(event.json).at("line").as_string());
          if (lines.size() == 3) cancel.cancel();  // while the stream is open
          return true;
        },
        cancel);
  });
  CHECK(e.code() == Errc::cancelled);
  REQUIRE(lines.size() >= 3);
  CHECK(lines[0] == "tick-1");
  CHECK(lines[2] == "tick-3");
  DeleteOptions now;
  now.grace_period_seconds = 0;
  client().remove(resources::pods, name, now, ns());
}

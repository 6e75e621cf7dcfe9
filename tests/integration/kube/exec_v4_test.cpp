// exec against a server that speaks only v4.channel.k8s.io (as API servers
// before Kubernetes 1.30): the test cluster's exec-protocols fault switch,
// scoped to a namespace of this test so that other tests keep v5.
#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "support.hpp"

using namespace kiln::kube;
using kubetest::client;

namespace {

// A namespace of its own whose exec negotiates only v4 while the test runs.
class V4Namespace {
 public:
  V4Namespace() : name_(kubetest::unique("kiln-v4")) {
    client().create(resources::namespaces,
                    kubetest::json_object(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + name_ +
                                          R"("}})"));
    kubetest::fault(R"({"action":"exec-protocols","protocols":["v4.channel.k8s.io"],"namespace":")" + name_ + R"("})");
  }
  ~V4Namespace() {
    try {
      kubetest::fault(R"({"action":"exec-protocols","protocols":[],"namespace":")" + name_ + R"("})");
      DeleteOptions options;
      options.ignore_not_found = true;
      options.grace_period_seconds = 0;
      client().remove(resources::namespaces, name_, options);
    } catch (const std::exception&) {
      // The cluster may be gone already; nothing to clean up then.
    }
  }
  V4Namespace(const V4Namespace&) = delete;
  V4Namespace& operator=(const V4Namespace&) = delete;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

void start_pod(const std::string& ns, const std::string& name) {
  client().create(resources::pods, kubetest::pod(name, "sleep 3600"), ns);
  client().wait_for_pod_phase(name, "Running", std::chrono::seconds(120), ns);
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

}  // namespace

TEST_CASE("exec under v4.channel.k8s.io: protocol, exit codes, incremental output, stdin by length") {
  V4Namespace v4;
  const auto pod = kubetest::unique("v4");
  start_pod(v4.name(), pod);

  ExecRequest request;
  request.namespace_name = v4.name();
  request.timeout = std::chrono::seconds(120);  // bounds a hang; a pass never comes near it

  SUBCASE("non-zero exit code from the v4 status channel") {
    std::string out, err;
    request.command = {"sh", "-c", "echo out; echo err >&2; exit 3"};
    request.on_stdout = [&](std::string_view d) { out.append(d); };
    request.on_stderr = [&](std::string_view d) { err.append(d); };
    auto result = client().exec(pod, request);
    CHECK(result.protocol == "v4.channel.k8s.io");
    CHECK(result.exit_code == 3);
    CHECK(out == "out\n");
    CHECK(err == "err\n");
    request.command = {"true"};
    CHECK(client().exec(pod, request).exit_code == 0);
  }

  SUBCASE("stdout and stderr arrive while the command still runs") {
    // The command prints, then waits for a file that only a second exec
    // creates, and the second exec starts only once the first line arrived:
    // output buffered until the end would never arrive (the timeout ends it).
    const std::string flag = "/tmp/" + kubetest::unique("go");
    request.command = {"sh", "-c",
                       "echo first; echo to-stderr >&2; while [ ! -e " + flag + " ]; do sleep 0.05; done; echo second"};
    std::vector<std::pair<char, std::string>> events;
    std::atomic<bool> saw_both{false};
    std::string out, err;
    request.on_stdout = [&](std::string_view d) {
      out.append(d);
      events.emplace_back('o', std::string(d));
      if (out.find("first\n") != std::string::npos && err == "to-stderr\n") saw_both = true;
    };
    request.on_stderr = [&](std::string_view d) {
      err.append(d);
      events.emplace_back('e', std::string(d));
      if (out.find("first\n") != std::string::npos && err == "to-stderr\n") saw_both = true;
    };
    std::atomic<bool> done{false};
    std::thread releaser([&] {
      while (!saw_both && !done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (done) return;
      Client second(kubetest::config());
      ExecRequest touch;
      touch.namespace_name = v4.name();
      touch.command = {"touch", flag};
      touch.timeout = std::chrono::seconds(60);
      second.exec(pod, touch);
    });
    ExecResult result;
    try {
      result = client().exec(pod, request);
    } catch (...) {
      done = true;
      releaser.join();
      throw;
    }
    done = true;
    releaser.join();
    CHECK(result.exit_code == 0);
    CHECK(out == "first\nsecond\n");
    CHECK(err == "to-stderr\n");
    REQUIRE(!events.empty());
    CHECK(events.back() == std::pair<char, std::string>('o', "second\n"));
  }

  SUBCASE("stdin streams to a command that reads a known length (v4 cannot close stdin)") {
    const std::size_t total = 5u << 20;
    std::string data(total, '\0');
    std::uint32_t x = 12345;
    for (auto& c : data) {
      x = x * 1103515245u + 12345u;
      c = static_cast<char>(x >> 24);
    }
    std::size_t sent = 0;
    std::string out;
    request.command = {"sh", "-c", "head -c " + std::to_string(total) + " | sha256sum"};
    request.stdin_source = [&](char* buffer, std::size_t size) {
      std::size_t n = std::min(size, total - sent);
      std::copy_n(data.data() + sent, n, buffer);
      sent += n;
      return n;
    };
    request.on_stdout = [&](std::string_view d) { out.append(d); };
    auto result = client().exec(pod, request);
    CHECK(result.protocol == "v4.channel.k8s.io");
    CHECK(result.exit_code == 0);
    CHECK(result.stdin_bytes == total);
    CHECK(out.substr(0, 64) == sha256_hex(data));
  }
}

TEST_CASE("the exec-protocols switch is scoped: other namespaces still negotiate v5") {
  V4Namespace v4;
  const auto pod = kubetest::unique("v5");
  start_pod(kubetest::ns(), pod);
  ExecRequest request;
  request.namespace_name = kubetest::ns();
  request.command = {"true"};
  request.timeout = std::chrono::seconds(120);
  CHECK(client().exec(pod, request).protocol == "v5.channel.k8s.io");
}

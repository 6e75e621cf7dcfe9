#include "support.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <mutex>
#include <random>

namespace kubetest {

using namespace kiln::kube;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    const char* ci = std::getenv("CI");
    std::string how = std::string(name) + " is not set: start the test cluster first with eval \"$(tests/services/up)\"";
    if (ci != nullptr && std::string(ci) == "true") FAIL("CI=true and " << how);
    FAIL("test cluster missing (this test does not pass without it): " << how);
  }
  return v;
}

Config config(const std::string& context) {
  LoadOptions options;
  options.file = env("KUBECONFIG");
  options.context = context;
  return load_kubeconfig(options);
}

Client& client() {
  static Client* instance = new Client(config());
  return *instance;
}

std::string unique(const std::string& prefix) {
  static std::mt19937_64 rng(std::random_device{}());
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  static const char* hex = "0123456789abcdef";
  std::string s = prefix + "-";
  for (int i = 0; i < 8; ++i) s.push_back(hex[rng() % 16]);
  return s;
}

namespace {
// Deletes the run's namespace (and with it its pods and containers) at exit.
struct NamespaceCleanup {
  std::string name;
  ~NamespaceCleanup() {
    if (name.empty()) return;
    try {
      DeleteOptions options;
      options.ignore_not_found = true;
      options.grace_period_seconds = 0;
      client().remove(resources::namespaces, name, options);
    } catch (const std::exception&) {
      // The cluster may be gone already; nothing to clean then.
    }
  }
};
NamespaceCleanup cleanup;
}  // namespace

const std::string& ns() {
  static std::string name = [] {
    auto n = unique("kiln-it");
    client().apply(json_object(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + n +
                               R"(","labels":{"kiln.dev/test":"kube"}}})"));
    cleanup.name = n;
    return n;
  }();
  return name;
}

Object json_object(const std::string& text) { return boost::json::parse(text).as_object(); }

Object pod(const std::string& name, const std::string& script, const std::string& restart_policy) {
  const char* image = std::getenv("KILN_TEST_BASE_IMAGE");
  boost::json::object p{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"labels", {{"app", "kiln-it"}}}}},
      {"spec",
       {{"restartPolicy", restart_policy},
        {"terminationGracePeriodSeconds", 1},
        {"containers",
         boost::json::array{{{"name", "main"},
                             {"image", image && *image ? image : "kiln-test/busybox:latest"},
                             {"imagePullPolicy", "IfNotPresent"},
                             {"command", boost::json::array{"sh", "-c", script}}}}}}}};
  return p;
}

void start_pod(const std::string& name, const std::string& script, const std::string& restart_policy) {
  client().create(resources::pods, pod(name, script, restart_policy), ns());
  client().wait_for_pod_phase(name, "Running", std::chrono::seconds(120), ns());
}

void fault(const std::string& json) {
  auto r = client().request("POST", "/_test/faults", json, "application/json");
  REQUIRE_MESSAGE(r.status == 200, "fault switch " << json << ": HTTP " << r.status << " " << r.body);
}

}  // namespace kubetest

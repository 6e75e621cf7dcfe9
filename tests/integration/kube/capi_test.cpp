// The kubernetes section of kiln.h, through libkiln.so only.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <random>
#include <string>

#include "kiln.h"

namespace {

std::string kubeconfig() {
  const char* v = std::getenv("KUBECONFIG");
  if (!v || !*v) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("CI=true and KUBECONFIG is not set: eval \"$(tests/services/up)\"");
    FAIL("test cluster missing: KUBECONFIG is not set; eval \"$(tests/services/up)\"");
  }
  return v;
}

std::string suffix() {
  std::mt19937 rng(std::random_device{}());
  return std::to_string(rng() % 1000000);
}

}  // namespace

TEST_CASE("C API: open, apply, get, exec, delete") {
  auto path = kubeconfig();
  kiln_error* err = nullptr;
  kiln_kube* kube = nullptr;
  REQUIRE(kiln_kube_open(path.c_str(), nullptr, R"({"fieldValidation":"Strict"})", &kube, &err) == KILN_OK);
  CHECK(std::string(kiln_kube_namespace(kube)) == "default");

  std::string ns = "kiln-capi-" + suffix();
  std::string ns_json = R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})";
  REQUIRE(kiln_kube_apply(kube, ns_json.c_str(), nullptr, nullptr, nullptr, &err) == KILN_OK);

  std::string cm = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"capi"},"data":{"k":"v"}})";
  char* result = nullptr;
  REQUIRE(kiln_kube_apply(kube, cm.c_str(), ns.c_str(), nullptr, &result, &err) == KILN_OK);
  CHECK(std::string(result).find("\"k\":\"v\"") != std::string::npos);
  kiln_free(result);

  char* object = nullptr;
  REQUIRE(kiln_kube_get(kube, "v1", "ConfigMap", ns.c_str(), "capi", nullptr, &object, &err) == KILN_OK);
  CHECK(std::string(object).find("\"name\":\"capi\"") != std::string::npos);
  kiln_free(object);

  // Errors carry the code, the HTTP status and the Kubernetes reason.
  CHECK(kiln_kube_get(kube, "v1", "ConfigMap", ns.c_str(), "missing", nullptr, &object, &err) == KILN_ENOTFOUND);
  REQUIRE(err != nullptr);
  CHECK(kiln_error_http_status(err) == 404);
  CHECK(std::string(kiln_error_remote_code(err)) == "NotFound");
  kiln_error_free(err);
  err = nullptr;
  CHECK(kiln_kube_apply(kube, "{not json", nullptr, nullptr, nullptr, &err) == KILN_EINVAL);
  kiln_error_free(err);
  err = nullptr;
  kiln_kube* other = nullptr;
  CHECK(kiln_kube_open(path.c_str(), "no-such-context", nullptr, &other, &err) == KILN_ENOTFOUND);
  CHECK(other == nullptr);
  CHECK(std::string(kiln_error_message(err)).find("no-such-context") != std::string::npos);
  kiln_error_free(err);
  err = nullptr;
  kiln_kube* unused = nullptr;
  CHECK(kiln_kube_open(path.c_str(), nullptr, R"({"bogus":1})", &unused, &err) == KILN_EINVAL);
  CHECK(unused == nullptr);
  kiln_error_free(err);
  err = nullptr;

  std::string pod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"capi"},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"kiln-test/busybox:latest","imagePullPolicy":"IfNotPresent","command":["sleep","3600"]}]}})";
  REQUIRE(kiln_kube_apply(kube, pod.c_str(), ns.c_str(), nullptr, nullptr, &err) == KILN_OK);
  // Exec once the container runs (the exec is refused before).
  int code = -1;
  char* out = nullptr;
  char* errors = nullptr;
  size_t out_size = 0, errors_size = 0;
  const char* argv[] = {"sh", "-c", "cat; echo oops >&2; exit 4"};
  const char input[] = "hello\0binary";
  int status = KILN_EINTERNAL;
  for (int attempt = 0; attempt < 120; ++attempt) {
    status = kiln_kube_exec(kube, ns.c_str(), "capi", nullptr, argv, 3, input, sizeof input - 1, nullptr, &code, &out,
                            &out_size, &errors, &errors_size, &err);
    if (status == KILN_OK) break;
    kiln_error_free(err);
    err = nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  REQUIRE(status == KILN_OK);
  CHECK(code == 4);
  CHECK(out_size == sizeof input - 1);
  CHECK(std::string(out, out_size) == std::string(input, sizeof input - 1));
  CHECK(std::string(errors, errors_size) == "oops\n");
  kiln_free(out);
  kiln_free(errors);

  CHECK(kiln_kube_delete(kube, "v1", "Namespace", nullptr, ns.c_str(), R"({"propagationPolicy":"Background"})", nullptr,
                         &err) == KILN_OK);
  CHECK(kiln_kube_delete(kube, "v1", "ConfigMap", ns.c_str(), "gone-already", R"({"ignoreNotFound":true})", nullptr,
                         &err) == KILN_OK);
  kiln_kube_free(kube);
}

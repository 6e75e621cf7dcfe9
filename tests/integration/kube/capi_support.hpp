// Shared by the C API tests of the kubernetes section: the test cluster's
// kubeconfig, a client, a namespace of the test's own that is deleted at
// the end, and owned strings/errors.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "kiln.h"

namespace capi_test {

inline std::string kubeconfig() {
  const char* v = std::getenv("KUBECONFIG");
  if (!v || !*v) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("CI=true and KUBECONFIG is not set: eval \"$(tests/services/up)\"");
    FAIL("test cluster missing: KUBECONFIG is not set; eval \"$(tests/services/up)\"");
  }
  return v;
}

inline std::string suffix() {
  std::mt19937 rng(std::random_device{}());
  return std::to_string(rng() % 1000000);
}

// A string the library returned, freed with kiln_free.
struct Owned {
  char* p = nullptr;
  ~Owned() { kiln_free(p); }
  char** out() {
    kiln_free(p);
    p = nullptr;
    return &p;
  }
  std::string str() const { return p ? std::string(p) : std::string(); }
};

struct Err {
  kiln_error* e = nullptr;
  ~Err() { kiln_error_free(e); }
  kiln_error** out() {
    kiln_error_free(e);
    e = nullptr;
    return &e;
  }
  std::string message() const { return e ? kiln_error_message(e) : ""; }
};

// A client plus a namespace that lives as long as the fixture.
struct Cluster {
  kiln_kube* kube = nullptr;
  std::string ns;

  explicit Cluster(const char* prefix) {
    auto path = kubeconfig();
    Err err;
    REQUIRE_MESSAGE(kiln_kube_open(path.c_str(), nullptr, nullptr, &kube, err.out()) == KILN_OK, err.message());
    ns = std::string(prefix) + "-" + suffix();
    std::string doc = R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})";
    REQUIRE_MESSAGE(kiln_kube_apply(kube, doc.c_str(), nullptr, nullptr, nullptr, err.out()) == KILN_OK,
                    err.message());
  }
  ~Cluster() {
    kiln_kube_delete(kube, "v1", "Namespace", nullptr, ns.c_str(), R"({"ignoreNotFound":true})", nullptr, nullptr);
    kiln_kube_free(kube);
  }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  void apply(const std::string& doc) {
    Err err;
    REQUIRE_MESSAGE(kiln_kube_apply(kube, doc.c_str(), ns.c_str(), nullptr, nullptr, err.out()) == KILN_OK,
                    err.message());
  }

  // A busybox pod running `script` under sh -c.
  void pod(const std::string& name, const std::string& script, const char* restart_policy = "Never") {
    std::string escaped;
    for (char c : script) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    apply(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
          R"("},"spec":{"restartPolicy":")" + restart_policy +
          R"(","terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"kiln-test/busybox:latest","imagePullPolicy":"IfNotPresent","command":["sh","-c",")" +
          escaped + R"("]}]}})");
  }

  void wait_pod(const std::string& name, const char* until) {
    Err err;
    REQUIRE_MESSAGE(kiln_kube_wait_pod(kube, ns.c_str(), name.c_str(), until, 180000, nullptr, nullptr, err.out()) ==
                        KILN_OK,
                    err.message());
  }
};

}  // namespace capi_test

// Shared helpers of the Kubernetes client integration tests: the test
// cluster from tests/services/up (KUBECONFIG), a namespace per run, pods.
#pragma once

#include <string>

#include <boost/json.hpp>

#include "kiln/kube.hpp"

namespace kubetest {

// The test cluster's kubeconfig (fails the test when KUBECONFIG is unset: a
// missing cluster never passes).
kiln::kube::Config config(const std::string& context = {});
kiln::kube::Client& client();
// A namespace created once per test run ("kiln-it-<hex>").
const std::string& ns();
std::string unique(const std::string& prefix);
// A busybox pod running `script` with sh -c.
kiln::kube::Object pod(const std::string& name, const std::string& script, const std::string& restart_policy = "Never");
// Creates the pod and waits until it runs.
void start_pod(const std::string& name, const std::string& script, const std::string& restart_policy = "Never");
// POST /_test/faults of the test cluster.
void fault(const std::string& json);
kiln::kube::Object json_object(const std::string& text);
std::string env(const char* name);

}  // namespace kubetest

// kubeconfig parsing: real-world shapes, merging, and clear errors.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "kiln/kube.hpp"
#include "core/base64.hpp"

namespace fs = std::filesystem;
using kiln::Errc;
using kiln::kube::LoadOptions;

namespace {

const char* kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kiln-kubeconfig-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
};

std::string b64(const std::string& s) { return kiln::core::base64_encode(s); }

// The message of the Error thrown by f, with its code checked.
template <typename F>
std::string error_of(F&& f, Errc code) {
  try {
    f();
  } catch (const kiln::Error& e) {
    CHECK_MESSAGE(e.code() == code, e.what());
    return e.what();
  }
  FAIL("no error thrown");
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("GKE kubeconfig with gke-gcloud-auth-plugin") {
  std::string yaml = R"(apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: )" + b64(kPem) + R"(
    server: https://34.118.10.20
  name: gke_proj_europe-west1_prod
contexts:
- context:
    cluster: gke_proj_europe-west1_prod
    user: gke_proj_europe-west1_prod
  name: gke_proj_europe-west1_prod
current-context: gke_proj_europe-west1_prod
kind: Config
preferences: {}
users:
- name: gke_proj_europe-west1_prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      installHint: Install gke-gcloud-auth-plugin for use with kubectl by following
        https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin
      provideClusterInfo: true
)";
  auto c = kiln::kube::parse_kubeconfig(yaml, "/home/u/.kube/config");
  CHECK(c.server == "https://34.118.10.20");
  CHECK(c.ca_data == kPem);
  CHECK(c.namespace_name == "default");
  CHECK(c.context == "gke_proj_europe-west1_prod");
  REQUIRE(c.exec);
  CHECK(c.exec->command == "gke-gcloud-auth-plugin");
  CHECK(c.exec->api_version == "client.authentication.k8s.io/v1beta1");
  CHECK(c.exec->interactive_mode == kiln::kube::InteractiveMode::if_available);  // v1beta1 default
  CHECK(c.exec->provide_cluster_info);
  CHECK(contains(c.exec->install_hint, "cloud.google.com"));
}

TEST_CASE("EKS kubeconfig with aws eks get-token") {
  std::string yaml = R"(apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: )" + b64(kPem) + R"(
    server: https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com
  name: arn:aws:eks:eu-west-1:123456789012:cluster/prod
contexts:
- context:
    cluster: arn:aws:eks:eu-west-1:123456789012:cluster/prod
    user: arn:aws:eks:eu-west-1:123456789012:cluster/prod
    namespace: builds
  name: arn:aws:eks:eu-west-1:123456789012:cluster/prod
current-context: arn:aws:eks:eu-west-1:123456789012:cluster/prod
users:
- name: arn:aws:eks:eu-west-1:123456789012:cluster/prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - --region
      - eu-west-1
      - eks
      - get-token
      - --cluster-name
      - prod
      - --output
      - json
      command: aws
      env:
      - name: AWS_PROFILE
        value: ci
      interactiveMode: IfAvailable
      provideClusterInfo: false
)";
  auto c = kiln::kube::parse_kubeconfig(yaml, "/root/.kube/config");
  CHECK(c.namespace_name == "builds");
  REQUIRE(c.exec);
  CHECK(c.exec->command == "aws");
  REQUIRE(c.exec->args.size() == 8);
  CHECK(c.exec->args[3] == "get-token");
  REQUIRE(c.exec->env.size() == 1);
  CHECK(c.exec->env[0].first == "AWS_PROFILE");
  CHECK(c.exec->env[0].second == "ci");
  CHECK_FALSE(c.exec->provide_cluster_info);
}

TEST_CASE("kind kubeconfig with client certificate data") {
  std::string key = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n";
  std::string yaml = R"(apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: )" + b64(kPem) + R"(
    server: https://127.0.0.1:41231
  name: kind-kind
contexts:
- context:
    cluster: kind-kind
    user: kind-kind
  name: kind-kind
current-context: kind-kind
kind: Config
preferences: {}
users:
- name: kind-kind
  user:
    client-certificate-data: )" + b64(kPem) + R"(
    client-key-data: )" + b64(key) + "\n";
  auto c = kiln::kube::parse_kubeconfig(yaml, "/tmp/kind");
  CHECK(c.server == "https://127.0.0.1:41231");
  CHECK(c.client_cert_data == kPem);
  CHECK(c.client_key_data == key);
  CHECK(c.client_cert_file.empty());
  CHECK_FALSE(c.exec);
}

TEST_CASE("several files merge in KUBECONFIG order; relative paths follow their file") {
  TempDir dir;
  dir.write("certs/ca.pem", kPem);
  dir.write("token", "file-token\n");
  auto a = dir.write("a.yaml", R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: shared
  cluster:
    server: https://first.example:6443
    certificate-authority: certs/ca.pem
contexts:
- name: dev
  context: {cluster: shared, user: dev-user, namespace: team-a}
)");
  auto b = dir.write("sub/b.yaml", R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: shared
  cluster:
    server: https://second.example:6443
- name: prod-cluster
  cluster:
    server: https://prod.example
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
    tokenFile: ../token
- name: prod-user
  user:
    username: admin
    password: s3cret
contexts:
- name: dev
  context: {cluster: prod-cluster, user: prod-user}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
)");
  LoadOptions options;
  options.kubeconfig_env = a.string() + "::" + (dir.path / "missing.yaml").string() + ":" + b.string();
  auto c = kiln::kube::load_kubeconfig(options);
  CHECK(c.context == "dev");                          // first current-context wins
  CHECK(c.server == "https://first.example:6443");    // first definition of "shared" wins
  CHECK(c.ca_file == (dir.path / "certs/ca.pem").string());
  CHECK(c.token_file == (dir.path / "token").string());  // relative to sub/b.yaml
  CHECK(c.namespace_name == "team-a");

  options.context = "prod";
  options.namespace_name = "override";
  auto p = kiln::kube::load_kubeconfig(options);
  CHECK(p.server == "https://prod.example");
  CHECK(p.insecure_skip_tls_verify);
  CHECK(p.username == "admin");
  CHECK(p.password == "s3cret");
  CHECK(p.namespace_name == "override");
}

TEST_CASE("an explicit kubeconfig file must exist; no kubeconfig at all names what was looked at") {
  TempDir dir;
  LoadOptions options;
  options.file = dir.path / "nope";
  auto msg = error_of([&] { kiln::kube::load_kubeconfig(options); }, Errc::not_found);
  CHECK(contains(msg, (dir.path / "nope").string()));
  LoadOptions env;
  env.kubeconfig_env = (dir.path / "x").string() + ":" + (dir.path / "y").string();
  msg = error_of([&] { kiln::kube::load_kubeconfig(env); }, Errc::not_found);
  CHECK(contains(msg, (dir.path / "y").string()));
}

TEST_CASE("malformed kubeconfigs give errors naming the file and the field") {
  const std::string file = "/etc/kube/broken.yaml";
  auto parse = [&](const std::string& yaml, const std::string& ctx = {}) { kiln::kube::parse_kubeconfig(yaml, file, ctx); };
  const std::string ok_cluster = "clusters:\n- name: c\n  cluster:\n    server: https://h\n";
  const std::string ctx = "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";

  SUBCASE("YAML syntax error with its line") {
    auto msg = error_of([&] { parse("clusters:\n- name: [unclosed\n"); }, Errc::invalid_argument);
    CHECK(contains(msg, file));
    CHECK(contains(msg, "line"));
    CHECK(contains(msg, "YAML"));
  }
  SUBCASE("bad base64 in client-key-data") {
    auto msg = error_of([&] { parse(ok_cluster + ctx + "users:\n- name: u\n  user:\n    client-certificate-data: " + b64(kPem) + "\n    client-key-data: '@@not-base64@@'\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, file));
    CHECK(contains(msg, "client-key-data"));
    CHECK(contains(msg, "users[0]"));
    CHECK(contains(msg, "line 13"));
    CHECK_FALSE(contains(msg, "not-base64"));  // secrets are not echoed
  }
  SUBCASE("boolean that is not one") {
    auto msg = error_of([&] { parse("clusters:\n- name: c\n  cluster:\n    server: https://h\n    insecure-skip-tls-verify: maybe\n" + ctx + "users:\n- name: u\n  user: {}\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "insecure-skip-tls-verify"));
    CHECK(contains(msg, "maybe"));
  }
  SUBCASE("missing context lists the known ones") {
    auto msg = error_of([&] { parse(ok_cluster + ctx + "users:\n- name: u\n  user: {}\n", "staging"); }, Errc::not_found);
    CHECK(contains(msg, "\"staging\""));
    CHECK(contains(msg, "contexts: x"));
  }
  SUBCASE("no current context") {
    auto msg = error_of([&] { parse(ok_cluster); }, Errc::not_found);
    CHECK(contains(msg, "current-context"));
  }
  SUBCASE("context naming an undefined cluster") {
    auto msg = error_of([&] { parse("contexts:\n- name: x\n  context: {cluster: nowhere}\ncurrent-context: x\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "\"nowhere\""));
  }
  SUBCASE("server without scheme") {
    auto msg = error_of([&] { parse("clusters:\n- name: c\n  cluster:\n    server: kube.example:6443\n" + ctx + "users:\n- name: u\n  user: {}\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "server"));
    CHECK(contains(msg, "https://"));
  }
  SUBCASE("v1 exec plugin without interactiveMode") {
    auto msg = error_of([&] { parse(ok_cluster + ctx + "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: plug\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "interactiveMode"));
    CHECK(contains(msg, "users[0]"));
  }
  SUBCASE("removed exec API version") {
    auto msg = error_of([&] { parse(ok_cluster + ctx + "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: plug\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "v1alpha1"));
  }
  SUBCASE("removed in-tree auth provider") {
    auto msg = error_of([&] { parse(ok_cluster + ctx + "users:\n- name: u\n  user:\n    auth-provider:\n      name: gcp\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "gcp"));
    CHECK(contains(msg, "gke-gcloud-auth-plugin"));
  }
  SUBCASE("certificate file that does not exist") {
    auto msg = error_of([&] { parse(ok_cluster + ctx + "users:\n- name: u\n  user:\n    client-certificate: client.crt\n    client-key: client.key\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "/etc/kube/client.crt"));
  }
  SUBCASE("client certificate without key") {
    auto msg = error_of([&] { parse(ok_cluster + ctx + "users:\n- name: u\n  user:\n    client-certificate-data: " + b64(kPem) + "\n"); },
                        Errc::invalid_argument);
    CHECK(contains(msg, "client-key"));
  }
  SUBCASE("clusters that is not a list") {
    auto msg = error_of([&] { parse("clusters: {a: b}\n"); }, Errc::invalid_argument);
    CHECK(contains(msg, "clusters"));
  }
  SUBCASE("a document that is not a map") {
    auto msg = error_of([&] { parse("- just\n- a list\n"); }, Errc::invalid_argument);
    CHECK(contains(msg, file));
  }
}

TEST_CASE("in-cluster configuration") {
  TempDir dir;
  dir.write("token", "sa-token\n");
  dir.write("ca.crt", kPem);
  dir.write("namespace", "builds\n");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = kiln::kube::in_cluster_config(dir.path);
  CHECK(c.server == "https://10.96.0.1:443");
  CHECK(c.in_cluster);
  CHECK(c.token_file == (dir.path / "token").string());
  CHECK(c.ca_file == (dir.path / "ca.crt").string());
  CHECK(c.namespace_name == "builds");
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  CHECK(kiln::kube::in_cluster_config(dir.path).server == "https://[fd00::1]:443");
  fs::remove(dir.path / "token");
  auto msg = error_of([&] { kiln::kube::in_cluster_config(dir.path); }, Errc::not_found);
  CHECK(contains(msg, "token"));
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  error_of([&] { kiln::kube::in_cluster_config(dir.path); }, Errc::not_found);
}

// The service proxy as a transport to the test registry, and credentials
// that need refreshing (exec plugin token rejected with 401).
#include <doctest/doctest.h>

#include <openssl/sha.h>

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "http/client.hpp"
#include "kube/transport.hpp"
#include "support.hpp"

using namespace kiln::kube;
using kiln::Errc;
using kubetest::client;

namespace fs = std::filesystem;

namespace {

std::string sha256_hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string hex;
  for (unsigned char c : digest) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
  return hex;
}

}  // namespace

TEST_CASE("service proxy: registry API through the API server, Location rewritten") {
  kubetest::env("KILN_TEST_REGISTRY");
  auto storage = kubetest::env("KILN_TEST_REGISTRY_STORAGE");
  auto proxy = service_proxy_path("kiln-test", "registry", "5000", "http");
  ProxyRequest ping;
  ping.path = "/v2/";
  auto v2 = client().proxy(proxy, ping);
  CHECK(v2.status == 200);
  CHECK(v2.header("Docker-Distribution-Api-Version").value_or("") == "registry/2.0");

  // A monolithic blob upload: POST opens a session, PUT <Location>&digest= closes it.
  std::string blob = "kiln service proxy blob " + kubetest::unique("b");
  auto digest = "sha256:" + sha256_hex(blob);
  auto repo = "kiln-proxy/" + kubetest::unique("r");
  ProxyRequest start;
  start.method = "POST";
  start.path = "/v2/" + repo + "/blobs/uploads/";
  auto opened = client().proxy(proxy, start);
  REQUIRE(opened.status == 202);
  auto location = opened.header("Location").value_or("");
  INFO("Location: " << location);
  REQUIRE(location.rfind(proxy + "/v2/" + repo + "/blobs/uploads/", 0) == 0);  // rewritten into the proxy path

  ProxyRequest put;
  put.method = "PUT";
  put.path = location.substr(proxy.size()) + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest;
  std::size_t offset = 0;
  put.body_source = [&](char* buffer, std::size_t size) {  // streamed, not buffered
    std::size_t n = std::min(size, blob.size() - offset);
    std::memcpy(buffer, blob.data() + offset, n);
    offset += n;
    return n;
  };
  put.body_size = static_cast<std::int64_t>(blob.size());
  put.headers = {{"Content-Type", "application/octet-stream"}};
  auto stored = client().proxy(proxy, put);
  CHECK(stored.status == 201);

  // Independent check: the registry's own storage holds the bytes.
  auto hex = digest.substr(7);
  std::ifstream data(fs::path(storage) / "docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex / "data", std::ios::binary);
  std::string on_disk((std::istreambuf_iterator<char>(data)), std::istreambuf_iterator<char>());
  CHECK(on_disk == blob);

  // Streamed download of the same blob.
  std::string downloaded;
  ProxyRequest get;
  get.path = "/v2/" + repo + "/blobs/" + digest;
  get.sink = [&](std::string_view d) { downloaded.append(d); };
  CHECK(client().proxy(proxy, get).status == 200);
  CHECK(downloaded == blob);

  // The proxy never carries our credentials' header, nor leaves its path.
  ProxyRequest escape;
  escape.path = "/../../secrets";
  CHECK_THROWS_AS(client().proxy(proxy, escape), kiln::Error);
  ProxyRequest with_auth;
  with_auth.path = "/v2/";
  with_auth.headers = {{"Authorization", "Basic eDp5"}};
  CHECK_THROWS_AS(client().proxy(proxy, with_auth), kiln::Error);
  CHECK(client().url_of(proxy).rfind("https://127.0.0.1:", 0) == 0);
}

TEST_CASE("exec credential plugin: a token the server rejects is refreshed once on 401") {
  auto real_token = kubetest::env("KILN_TESTCLUSTER_TOKEN");
  char tmpl[] = "/tmp/kiln-plugin-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  auto count = dir / "runs";
  auto plugin = dir / "kiln-test-auth-plugin";
  {
    // First run: a token the server does not know, valid (for the client)
    // for another hour. Later runs: the real token.
    std::ofstream out(plugin);
    out << "#!/bin/sh\n"
        << "n=$(cat '" << count.string() << "' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '" << count.string() << "'\n"
        << "if [ $n -eq 1 ]; then token=expired-token; else token=\"$REAL_TOKEN\"; fi\n"
        << "exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\n"
        << "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
           "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"%s\"}}' \"$token\" \"$exp\"\n";
  }
  fs::permissions(plugin, fs::perms::owner_all);
  auto config = kubetest::config("kiln-test-token");
  config.token.clear();
  ExecPlugin exec;
  exec.api_version = "client.authentication.k8s.io/v1";
  exec.command = plugin.string();
  exec.env = {{"REAL_TOKEN", real_token}};
  exec.interactive_mode = InteractiveMode::never;
  config.exec = exec;
  Client with_plugin(config);
  auto ns = with_plugin.get(resources::namespaces, "default");
  CHECK(ns.at("metadata").at("name").as_string() == "default");
  std::ifstream runs(count);
  int n = 0;
  runs >> n;
  CHECK(n == 2);  // ran, was rejected with 401, ran again
  with_plugin.get(resources::namespaces, "default");
  std::ifstream runs_again(count);
  runs_again >> n;
  CHECK(n == 2);  // cached until its expiry

  // exec over WebSocket uses the same credentials.
  auto pod = kubetest::unique("authexec");
  kubetest::start_pod(pod, "sleep 3600");
  ExecRequest request;
  request.namespace_name = kubetest::ns();
  request.command = {"true"};
  CHECK(with_plugin.exec(pod, request).exit_code == 0);
  fs::remove_all(dir);
}

TEST_CASE("proxy_transport: another HTTP client reaches the registry through the API server") {
  kubetest::env("KILN_TEST_REGISTRY");
  auto proxy = service_proxy_path("kiln-test", "registry", "5000", "http");
  auto transport = proxy_transport(client(), proxy);
  CHECK(transport.base_url == client().url_of(proxy));
  kiln::http::Session session(transport.session);
  kiln::http::Request request;
  request.url = transport.base_url + "/v2/";
  request.headers = transport.headers({});
  auto response = session.perform(request);
  CHECK(response.status == 200);
  CHECK(response.headers.get("Docker-Distribution-Api-Version").value_or("") == "registry/2.0");
  CHECK(transport.rewrite_location("/v2/x/blobs/uploads/1?_state=s") ==
        transport.base_url + "/v2/x/blobs/uploads/1?_state=s");
  CHECK(transport.rewrite_location("http://10.0.0.7:5000/v2/x/blobs/uploads/2") ==
        transport.base_url + "/v2/x/blobs/uploads/2");
}

TEST_CASE("exec credential plugin handing out a client certificate (kept in memory)") {
  auto admin = kubetest::config();  // the kind-style user: client certificate data
  REQUIRE_FALSE(admin.client_cert_data.empty());
  char tmpl[] = "/tmp/kiln-plugin-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  boost::json::object credential{
      {"apiVersion", "client.authentication.k8s.io/v1beta1"},
      {"kind", "ExecCredential"},
      {"status", {{"clientCertificateData", admin.client_cert_data}, {"clientKeyData", admin.client_key_data}}}};
  std::ofstream(dir / "credential.json") << boost::json::serialize(credential);
  auto plugin = dir / "plugin";
  std::ofstream(plugin) << "#!/bin/sh\ncat '" << (dir / "credential.json").string() << "'\n";
  fs::permissions(plugin, fs::perms::owner_all);
  auto config = admin;
  config.client_cert_data.clear();
  config.client_key_data.clear();
  ExecPlugin exec;
  exec.api_version = "client.authentication.k8s.io/v1beta1";
  exec.command = plugin.string();
  config.exec = exec;
  Client with_cert(config);
  CHECK(with_cert.get(resources::namespaces, "default").at("metadata").at("name").as_string() == "default");
  // Without any credential the server answers 401.
  auto anonymous = admin;
  anonymous.client_cert_data.clear();
  anonymous.client_key_data.clear();
  Client nobody(anonymous);
  try {
    nobody.get(resources::namespaces, "default");
    FAIL("anonymous request accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::unauthorized);
  }
  fs::remove_all(dir);
}

// Exec credential plugins (real child processes) and token sources.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/json/parse.hpp>

#include "kiln/kube.hpp"
#include "kube/auth.hpp"

namespace fs = std::filesystem;
using kiln::Errc;
using namespace kiln::kube;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kiln-auth-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path script(const std::string& name, const std::string& body) const {
    auto p = path / name;
    std::ofstream(p) << "#!/bin/sh\n" << body;
    fs::permissions(p, fs::perms::owner_all);
    return p;
  }
};

Config exec_config(const fs::path& plugin, std::vector<std::string> args = {}) {
  Config c;
  c.server = "https://127.0.0.1:6443";
  c.origin = "test";
  c.user = "u";
  c.ca_data = "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n";
  ExecPlugin p;
  p.api_version = "client.authentication.k8s.io/v1";
  p.command = plugin.string();
  p.args = std::move(args);
  p.env = {{"PLUGIN_GREETING", "hello world"}};
  p.interactive_mode = InteractiveMode::never;
  p.provide_cluster_info = true;
  c.exec = p;
  return c;
}

}  // namespace

TEST_CASE("ExecCredential parsing") {
  const std::string v1 = "client.authentication.k8s.io/v1";
  auto c = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t0k","expirationTimestamp":"2030-01-02T03:04:05Z"}})",
      v1, "plug");
  CHECK(c.token == "t0k");
  REQUIRE(c.expires);
  CHECK(std::chrono::system_clock::to_time_t(*c.expires) == 1893553445);
  auto cert = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"C","clientKeyData":"K"}})",
      v1, "plug");
  CHECK(cert.client_cert_pem == "C");
  CHECK_FALSE(cert.expires);
  for (const char* bad : {
           "not json",
           R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"x"}})",
           R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"Other","status":{"token":"x"}})",
           R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"})",
           R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
           R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"C"}})",
           R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x","expirationTimestamp":"tomorrow"}})",
       }) {
    try {
      parse_exec_credential(bad, v1, "plug");
      FAIL("accepted: " << bad);
    } catch (const kiln::Error& e) {
      CHECK(e.code() == Errc::unauthorized);
      CHECK(std::string(e.what()).find("\"plug\"") != std::string::npos);
    }
  }
}

TEST_CASE("RFC 3339 times") {
  CHECK(parse_rfc3339("2024-05-01T10:00:00Z"));
  auto a = parse_rfc3339("2024-05-01T12:00:00+02:00");
  auto b = parse_rfc3339("2024-05-01T10:00:00.000Z");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a == *b);
  CHECK(*parse_rfc3339("2024-05-01T10:00:00.5Z") > *b);
  CHECK_FALSE(parse_rfc3339("2024-05-01 10:00"));
  CHECK_FALSE(parse_rfc3339("2024-13-01T10:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2024-05-01T10:00:00Zjunk"));
}

TEST_CASE("exec plugin: env, args, KUBERNETES_EXEC_INFO, cached until expiry, re-run after invalidate") {
  TempDir dir;
  auto log = dir.path / "runs";
  auto info = dir.path / "info.json";
  auto plugin = dir.script("plugin", "echo run >> '" + log.string() + "'\n"
                                     "printf '%s' \"$KUBERNETES_EXEC_INFO\" > '" + info.string() + "'\n"
                                     "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                                     "\"status\":{\"token\":\"%s-%s\"}}' \"$1\" \"$PLUGIN_GREETING\"\n");
  auto config = exec_config(plugin, {"arg one"});
  Authenticator auth(config, std::chrono::seconds(10));
  CHECK(auth.current({}).authorization == "Bearer arg one-hello world");
  CHECK(auth.current({}).authorization == "Bearer arg one-hello world");
  CHECK(auth.plugin_runs() == 1);  // no expiry: cached
  std::ifstream info_in(info);
  auto exec_info = boost::json::parse(std::string(std::istreambuf_iterator<char>(info_in), {}));
  CHECK(exec_info.at("kind").as_string() == "ExecCredential");
  CHECK(exec_info.at("spec").at("interactive").as_bool() == false);
  CHECK(exec_info.at("spec").at("cluster").at("server").as_string() == "https://127.0.0.1:6443");
  CHECK(exec_info.at("spec").at("cluster").as_object().contains("certificate-authority-data"));
  CHECK(auth.invalidate());
  auth.current({});
  CHECK(auth.plugin_runs() == 2);
}

TEST_CASE("exec plugin: an expired credential is refreshed before use") {
  TempDir dir;
  auto count = dir.path / "n";
  auto plugin = dir.script("plugin", "n=$(cat '" + count.string() + "' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '" +
                                         count.string() + "'\n"
                                         "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                                         "\"status\":{\"token\":\"t%s\",\"expirationTimestamp\":\"2001-01-01T00:00:00Z\"}}' $n\n");
  Authenticator auth(exec_config(plugin), std::chrono::seconds(10));
  CHECK(auth.current({}).authorization == "Bearer t1");
  CHECK(auth.current({}).authorization == "Bearer t2");
}

TEST_CASE("exec plugin failures are clear") {
  TempDir dir;
  SUBCASE("not installed: the install hint is shown") {
    auto config = exec_config(dir.path / "missing-plugin");
    config.exec->command = "kiln-missing-auth-plugin";
    config.exec->install_hint = "Install it with: apt-get install kiln-missing-auth-plugin";
    Authenticator auth(config, std::chrono::seconds(10));
    try {
      auth.current({});
      FAIL("no error");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == Errc::unauthorized);
      CHECK(std::string(e.what()).find("apt-get install kiln-missing-auth-plugin") != std::string::npos);
    }
  }
  SUBCASE("non-zero exit: stderr is quoted") {
    auto plugin = dir.script("plugin", "echo 'error: you must log in first' >&2; exit 2\n");
    Authenticator auth(exec_config(plugin), std::chrono::seconds(10));
    try {
      auth.current({});
      FAIL("no error");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == Errc::unauthorized);
      CHECK(std::string(e.what()).find("exit status 2") != std::string::npos);
      CHECK(std::string(e.what()).find("you must log in first") != std::string::npos);
    }
  }
  SUBCASE("interactiveMode Always cannot be served by a library") {
    auto plugin = dir.script("plugin", "exit 0\n");
    auto config = exec_config(plugin);
    config.exec->interactive_mode = InteractiveMode::always;
    Authenticator auth(config, std::chrono::seconds(10));
    CHECK_THROWS_AS(auth.current({}), kiln::Error);
    CHECK(auth.plugin_runs() == 0);
  }
}

TEST_CASE("token files are re-read when they change; basic auth") {
  TempDir dir;
  auto token = dir.path / "token";
  std::ofstream(token) << "first\n";
  Config c;
  c.server = "https://h";
  c.token_file = token.string();
  Authenticator auth(c, std::chrono::seconds(1));
  CHECK(auth.current({}).authorization == "Bearer first");
  std::ofstream(token) << "second\n";
  // Rotation replaces the file; a different mtime is what triggers a re-read.
  fs::last_write_time(token, fs::last_write_time(token) + std::chrono::seconds(5));
  CHECK(auth.current({}).authorization == "Bearer second");

  Config basic;
  basic.server = "https://h";
  basic.username = "admin";
  basic.password = "pw";
  Authenticator b(basic, std::chrono::seconds(1));
  CHECK(b.current({}).authorization == "Basic YWRtaW46cHc=");
}

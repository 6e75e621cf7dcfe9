// Credential helpers are real programs here: small shell scripts put first
// on PATH, run the way docker runs them.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "auth/cred_helper.hpp"
#include "kiln/auth.hpp"
#include "kiln/error.hpp"

namespace {

struct HelperDir {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "kiln-cred-helper-test";
  std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  HelperDir() {
    std::filesystem::create_directories(dir);
    setenv("PATH", (dir.string() + ":" + old_path).c_str(), 1);
  }
  ~HelperDir() {
    setenv("PATH", old_path.c_str(), 1);
    std::filesystem::remove_all(dir);
  }
  void add(const std::string& name, const std::string& script) {
    auto path = dir / ("docker-credential-" + name);
    std::ofstream(path) << "#!/bin/sh\n" << script << "\n";
    chmod(path.c_str(), 0755);
  }
};

}  // namespace

TEST_CASE("credential helpers: get with the server URL on stdin; <token> means an identity token") {
  HelperDir helpers;
  // Echoes what it was asked for, so the test sees the server URL docker would pass.
  helpers.add("echo", R"(test "$1" = get || exit 3
read url
printf '{"ServerURL":"%s","Username":"user-for-%s","Secret":"pw"}' "$url" "$url")");
  helpers.add("tok", R"(read url; printf '{"ServerURL":"%s","Username":"<token>","Secret":"idt"}' "$url")");
  helpers.add("none", R"(echo "credentials not found in native keychain"; exit 1)");
  helpers.add("broken", R"(echo "something went wrong"; exit 2)");
  helpers.add("garbage", R"(echo "not json")");
  helpers.add("slow", R"(sleep 10)");

  auto c = kiln::auth::run_credential_helper("echo", "https://index.docker.io/v1/");
  REQUIRE(c.has_value());
  CHECK(c->username == "user-for-https://index.docker.io/v1/");
  CHECK(c->password == "pw");
  auto t = kiln::auth::run_credential_helper("tok", "ghcr.io");
  REQUIRE(t.has_value());
  CHECK(t->identity_token == "idt");
  CHECK(t->username.empty());
  CHECK_FALSE(kiln::auth::run_credential_helper("none", "ghcr.io").has_value());
  try {
    kiln::auth::run_credential_helper("broken", "ghcr.io");
    FAIL("accepted");
  } catch (const kiln::Error& e) {
    CHECK(std::string(e.what()).find("docker-credential-broken") != std::string::npos);
    CHECK(std::string(e.what()).find("exit code 2") != std::string::npos);
  }
  CHECK_THROWS_AS(kiln::auth::run_credential_helper("garbage", "x"), kiln::Error);
  CHECK_THROWS_AS(kiln::auth::run_credential_helper("absent-helper", "x"), kiln::Error);
  CHECK_THROWS_AS(kiln::auth::run_credential_helper("../../bin/sh", "x"), kiln::Error);
  try {
    kiln::auth::run_credential_helper("slow", "x", std::chrono::milliseconds(300));
    FAIL("accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::timeout);
  }
}

TEST_CASE("config.json: credHelpers per registry, then credsStore, then auths") {
  HelperDir helpers;
  helpers.add("per", R"(read url; printf '{"Username":"per","Secret":"s1"}')");
  helpers.add("store", R"(read url; case "$url" in inline.example) echo "credentials not found"; exit 1;; esac
printf '{"Username":"store","Secret":"s2"}')");
  auto file = helpers.dir / "config.json";
  std::ofstream(file) << R"({"credsStore":"store","credHelpers":{"https://special.example":"per"},
    "auths":{"inline.example":{"username":"inline","password":"s3"}}})";
  auto store = kiln::docker_config_credentials(file);
  CHECK(store->get("special.example")->username == "per");
  CHECK(store->get("any.example")->username == "store");
  CHECK(store->get("inline.example")->username == "inline");
  // Secret payloads never run helpers on this machine.
  auto secret = kiln::dockerconfigjson_credentials(R"({"credsStore":"store","auths":{}})");
  CHECK_FALSE(secret->get("any.example").has_value());
}

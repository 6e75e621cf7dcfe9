#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/base64.hpp"
#include "auth/docker_config.hpp"
#include "kiln/auth.hpp"
#include "kiln/error.hpp"

using namespace kiln::auth;

TEST_CASE("registry keys are normalised like docker's") {
  CHECK(normalize_registry_key("https://index.docker.io/v1/") == "docker.io");
  CHECK(normalize_registry_key("registry-1.docker.io") == "docker.io");
  CHECK(normalize_registry_key("docker.io") == "docker.io");
  CHECK(normalize_registry_key("https://Host:5000/") == "host:5000");
  CHECK(normalize_registry_key("http://host") == "host");
  CHECK(normalize_registry_key("host/v1/") == "host");
  CHECK(helper_server_url("docker.io") == "https://index.docker.io/v1/");
  CHECK(helper_server_url("ghcr.io") == "ghcr.io");
}

TEST_CASE("config.json: auth, username/password, identitytoken") {
  std::string json = R"({"auths":{
    "https://index.docker.io/v1/":{"auth":")" + kiln::core::base64_encode("hub:pw:with:colons") + R"("},
    "http://reg.example:5000":{"username":"u","password":"p"},
    "tok.example/v1/":{"identitytoken":"refresh-me"},
    "empty.example":{}
  }})";
  auto store = kiln::dockerconfigjson_credentials(json);
  auto hub = store->get("docker.io");
  REQUIRE(hub.has_value());
  CHECK(hub->username == "hub");
  CHECK(hub->password == "pw:with:colons");
  CHECK(store->get("index.docker.io").has_value());
  auto reg = store->get("reg.example:5000");
  REQUIRE(reg.has_value());
  CHECK(reg->username == "u");
  CHECK(reg->password == "p");
  auto tok = store->get("tok.example");
  REQUIRE(tok.has_value());
  CHECK(tok->identity_token == "refresh-me");
  CHECK_FALSE(store->get("empty.example").has_value());
  CHECK_FALSE(store->get("other.example").has_value());
}

TEST_CASE("legacy .dockercfg payloads") {
  std::string json = R"({"reg.example":{"auth":")" + kiln::core::base64_encode("a:b") + R"(","email":"x@y"}})";
  auto c = kiln::dockerconfigjson_credentials(json)->get("reg.example");
  REQUIRE(c.has_value());
  CHECK(c->username == "a");
  CHECK(c->password == "b");
}

TEST_CASE("malformed configs name the field, never the secret") {
  struct Case {
    std::string json;
    std::string field;
  };
  std::string secret_b64 = kiln::core::base64_encode("no-colon-secret");
  for (const auto& c : {Case{R"({"auths":[]})", "auths"}, Case{R"({"auths":{"h":{"auth":"%%%"}}})", "auths[\"h\"].auth"},
                        Case{R"({"auths":{"h":{"auth":")" + secret_b64 + R"("}}})", "auths[\"h\"].auth"},
                        Case{R"({"auths":{"h":{"username":5}}})", "auths[\"h\"].username"},
                        Case{R"({"credHelpers":{"h":1}})", "credHelpers[\"h\"]"}, Case{"[1]", "document"},
                        Case{"{not json", "not valid JSON"}}) {
    CAPTURE(c.json);
    try {
      kiln::dockerconfigjson_credentials(c.json);
      FAIL("accepted");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == kiln::Errc::invalid_argument);
      std::string what = e.what();
      CHECK(what.find(c.field) != std::string::npos);
      CHECK(what.find("no-colon-secret") == std::string::npos);
      CHECK(what.find(secret_b64) == std::string::npos);
    }
  }
}

TEST_CASE("docker_config_credentials: a missing file is an empty store; a bad one names the file") {
  auto dir = std::filesystem::temp_directory_path() / "kiln-auth-test-config";
  std::filesystem::create_directories(dir);
  CHECK_FALSE(kiln::docker_config_credentials(dir / "absent.json")->get("x").has_value());
  {
    std::ofstream(dir / "bad.json") << "{\"auths\":7}";
  }
  try {
    kiln::docker_config_credentials(dir / "bad.json");
    FAIL("accepted");
  } catch (const kiln::Error& e) {
    CHECK(std::string(e.what()).find((dir / "bad.json").string()) != std::string::npos);
  }
  {
    std::ofstream(dir / "config.json") << R"({"auths":{"r.example":{"username":"u","password":"p"}}})";
  }
  setenv("DOCKER_CONFIG", dir.c_str(), 1);
  auto c = kiln::docker_config_credentials()->get("r.example");
  unsetenv("DOCKER_CONFIG");
  REQUIRE(c.has_value());
  CHECK(c->password == "p");
  std::filesystem::remove_all(dir);
}

TEST_CASE("static credentials normalise their keys") {
  auto store = kiln::static_credentials({{"https://index.docker.io/v1/", kiln::Credential{"u", "p", ""}}});
  CHECK(store->get("docker.io").has_value());
  CHECK_FALSE(store->get("ghcr.io").has_value());
}

// TLS, client certificates, Basic and token auth against the registries of
// tests/services/up; the token server's log proves which scopes were asked.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "kiln/auth.hpp"
#include "kiln/error.hpp"
#include "kiln/registry.hpp"
#include "support.hpp"

using namespace nettest;

namespace {

kiln::RegistryOptions with_credentials(const std::string& host, const std::string& user, const std::string& password) {
  kiln::RegistryOptions o = plain_options();
  o.credentials = kiln::static_credentials({{host, kiln::Credential{user, password, ""}}});
  return o;
}

std::string creds() { return env("KILN_TEST_REGISTRY_USER") + ":" + env("KILN_TEST_REGISTRY_PASSWORD"); }

// Token server log entries that mention `repo` in a requested scope.
std::vector<boost::json::object> token_requests_for(const std::string& repo) {
  std::vector<boost::json::object> out;
  std::ifstream in(env("KILN_TEST_TOKEN_LOG"));
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const auto& obj = v.as_object();
    auto* scopes = obj.if_contains("scopes");
    if (scopes == nullptr || !scopes->is_array()) continue;
    for (const auto& s : scopes->as_array()) {
      if (s.is_string() && std::string(s.as_string()).find(":" + repo + ":") != std::string::npos) {
        out.push_back(obj);
        break;
      }
    }
  }
  return out;
}

std::set<std::string> scopes_of(const boost::json::object& entry) {
  std::set<std::string> out;
  for (const auto& s : entry.at("scopes").as_array()) out.insert(std::string(s.as_string()));
  return out;
}

}  // namespace

TEST_CASE("TLS: verified with the test CA; refused without it, with an error that says what to do") {
  std::string host = env("KILN_TEST_REGISTRY_TLS");
  auto registry = kiln::open_remote_registry(host, plain_options());
  std::string repo = unique_repo("tls");
  auto img = push_small_image(*registry, repo, "v1", 21);
  SkopeoAuth tls;
  tls.tls = true;
  CHECK(skopeo_raw(host, repo, "v1", tls) == img.manifest.bytes);

  kiln::RegistryOptions no_ca;
  no_ca.transport.max_retries = 0;
  auto unverified = kiln::open_remote_registry(host, no_ca);
  try {
    unverified->resolve(repo, "v1");
    FAIL("an unknown CA was accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::network);
    CHECK(std::string(e.what()).find("CA") != std::string::npos);
    CHECK(std::string(e.what()).find("insecure registry") != std::string::npos);
  }
  // Marked insecure: TLS without verification (like docker's insecure-registries).
  kiln::RegistryOptions insecure;
  insecure.transport.insecure_registries = {host};
  auto lax = kiln::open_remote_registry(host, insecure);
  CHECK(lax->resolve(repo, "v1").has_value());
}

TEST_CASE("mutual TLS: the client certificate is presented") {
  std::string host = env("KILN_TEST_REGISTRY_MTLS");
  kiln::RegistryOptions options = plain_options();
  options.transport.client_cert_file = env("KILN_TEST_CLIENT_CERT");
  options.transport.client_key_file = env("KILN_TEST_CLIENT_KEY");
  auto registry = kiln::open_remote_registry(host, options);
  std::string repo = unique_repo("mtls");
  auto img = push_small_image(*registry, repo, "v1", 22);
  CHECK(registry->get_manifest(repo, "v1").bytes == img.manifest.bytes);

  kiln::RegistryOptions without = plain_options();
  without.transport.max_retries = 0;
  auto refused = kiln::open_remote_registry(host, without);
  CHECK_THROWS_AS(refused->resolve(repo, "v1"), kiln::Error);
}

TEST_CASE("Basic auth: credentials work; missing or wrong ones give unauthorized without leaking them") {
  std::string host = env("KILN_TEST_REGISTRY_BASIC");
  std::string user = env("KILN_TEST_REGISTRY_USER");
  std::string password = env("KILN_TEST_REGISTRY_PASSWORD");
  auto registry = kiln::open_remote_registry(host, with_credentials(host, user, password));
  std::string repo = unique_repo("basic");
  auto img = push_small_image(*registry, repo, "v1", 23);
  SkopeoAuth auth;
  auth.tls = true;
  auth.creds = creds();
  CHECK(skopeo_raw(host, repo, "v1", auth) == img.manifest.bytes);
  CHECK(registry->tags(repo) == std::vector<std::string>{"v1"});

  auto anonymous = kiln::open_remote_registry(host, plain_options());
  try {
    anonymous->resolve(repo, "v1");
    FAIL("anonymous access was accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::unauthorized);
    CHECK(std::string(e.what()).find("no credentials") != std::string::npos);
  }
  std::string wrong_password = "wrong-" + password;
  auto wrong = kiln::open_remote_registry(host, with_credentials(host, user, wrong_password));
  try {
    wrong->resolve(repo, "v1");
    FAIL("a wrong password was accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::unauthorized);
    CHECK(std::string(e.what()).find(wrong_password) == std::string::npos);
    CHECK(std::string(e.what()).find("rejected") != std::string::npos);
  }
}

TEST_CASE("docker config.json credentials reach the Basic and token registries") {
  std::string config = env("KILN_TEST_DOCKER_CONFIG");
  kiln::RegistryOptions options = plain_options();
  options.credentials = kiln::docker_config_credentials(std::filesystem::path(config) / "config.json");
  for (const char* var : {"KILN_TEST_REGISTRY_BASIC", "KILN_TEST_REGISTRY_TOKEN"}) {
    CAPTURE(var);
    std::string host = env(var);
    auto registry = kiln::open_remote_registry(host, options);
    std::string repo = unique_repo("config");
    auto img = push_small_image(*registry, repo, "v1", 24);
    CHECK(registry->get_manifest(repo, "v1").bytes == img.manifest.bytes);
  }
}

TEST_CASE("token auth: push asks for pull,push on the target; a mount adds pull on the source, nothing else") {
  std::string host = env("KILN_TEST_REGISTRY_TOKEN");
  std::string user = env("KILN_TEST_REGISTRY_USER");
  std::string password = env("KILN_TEST_REGISTRY_PASSWORD");
  auto registry = kiln::open_remote_registry(host, with_credentials(host, user, password));
  std::string src = unique_repo("tok-src");
  std::string dst = unique_repo("tok-dst");
  auto img = push_small_image(*registry, src, "v1", 25);
  kiln::Digest layer = kiln::Digest::of(img.layer);
  kiln::Digest config = kiln::Digest::of(img.config);
  CHECK(registry->mount_blob(dst, layer, src));
  CHECK(registry->mount_blob(dst, config, src));
  registry->put_manifest(dst, "v1", img.manifest);

  // The push of src: one token, exactly pull,push on src (cached for the
  // three uploads and the manifest).
  auto src_requests = token_requests_for(src);
  REQUIRE(src_requests.size() >= 2);
  CHECK(scopes_of(src_requests[0]) == std::set<std::string>{"repository:" + src + ":pull,push"});
  CHECK(src_requests[0].at("authorization").as_bool());
  // The mounts: one token for pull,push on dst + pull on src, which also
  // serves the manifest put on dst.
  auto dst_requests = token_requests_for(dst);
  REQUIRE(dst_requests.size() == 1);
  CHECK(scopes_of(dst_requests[0]) ==
        std::set<std::string>{"repository:" + dst + ":pull,push", "repository:" + src + ":pull"});
  for (const auto& e : dst_requests) {
    CHECK(e.at("status").as_int64() == 200);
    CHECK(std::string(e.at("host").as_string()) == env("KILN_TEST_TOKEN_SERVER").substr(8));
  }
  // Everything src saw after its push is the mount's request.
  CHECK(src_requests.size() == 2);
  SkopeoAuth auth;
  auth.tls = true;
  auth.creds = creds();
  CHECK(skopeo_raw(host, dst, "v1", auth) == img.manifest.bytes);
  // The catalog needs its own scope, registry:catalog:*.
  auto catalog = registry->catalog();
  CHECK(std::find(catalog.begin(), catalog.end(), dst) != catalog.end());
  CHECK(registry->tags(dst) == std::vector<std::string>{"v1"});

  // Wrong credentials: the token server refuses and kiln says so.
  auto wrong = kiln::open_remote_registry(host, with_credentials(host, user, "not-" + password));
  try {
    wrong->resolve(src, "v1");
    FAIL("accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::unauthorized);
    CHECK(std::string(e.what()).find("not-" + password) == std::string::npos);
  }
  // Anonymous: the token grants nothing on a private repository.
  auto anonymous = kiln::open_remote_registry(host, plain_options());
  try {
    anonymous->resolve(src, "v1");
    FAIL("accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::unauthorized);
    MESSAGE(std::string(e.what()));
    CHECK(std::string(e.what()).find("anonymous access does not grant repository:" + src + ":pull") !=
          std::string::npos);
  }
}

TEST_CASE("token auth with an identity token: the OAuth2 refresh-token grant (POST), no password sent") {
  std::string host = env("KILN_TEST_REGISTRY_TOKEN");
  // An offline token from the token server, as `docker login` would store it.
  std::string out;
  REQUIRE(run({"curl", "-sS", "--fail", "--cacert", env("KILN_TEST_CA"), "-u", creds(),
               env("KILN_TEST_TOKEN_REALM") + "?service=" + env("KILN_TEST_TOKEN_SERVICE") + "&offline_token=true"},
              &out, false) == 0);
  auto refresh = boost::json::parse(out).as_object().at("refresh_token").as_string();
  kiln::RegistryOptions options = plain_options();
  options.credentials = kiln::static_credentials({{host, kiln::Credential{"", "", std::string(refresh)}}});
  auto registry = kiln::open_remote_registry(host, options);
  std::string repo = unique_repo("idtoken");
  auto img = push_small_image(*registry, repo, "v1", 26);
  CHECK(registry->get_manifest(repo, "v1").bytes == img.manifest.bytes);
  auto requests = token_requests_for(repo);
  REQUIRE_FALSE(requests.empty());
  for (const auto& e : requests) {
    CHECK(std::string(e.at("method").as_string()) == "POST");
    CHECK(std::string(e.at("grant_type").as_string()) == "refresh_token");
    CHECK_FALSE(e.at("authorization").as_bool());
    CHECK(e.at("status").as_int64() == 200);
  }
}

TEST_CASE("a credential helper named in config.json supplies the Basic registry's credentials") {
  std::string host = env("KILN_TEST_REGISTRY_BASIC");
  auto dir = std::filesystem::temp_directory_path() / ("kiln-helper-" + random_hex(8));
  std::filesystem::create_directories(dir);
  {
    // The helper checks it is asked for this registry, then answers.
    std::ofstream helper(dir / "docker-credential-kilntest");
    helper << "#!/bin/sh\nread url\n[ \"$url\" = \"" << host << "\" ] || { echo \"credentials not found\"; exit 1; }\n"
           << "printf '{\"ServerURL\":\"%s\",\"Username\":\"" << env("KILN_TEST_REGISTRY_USER")
           << "\",\"Secret\":\"" << env("KILN_TEST_REGISTRY_PASSWORD") << "\"}' \"$url\"\n";
  }
  std::filesystem::permissions(dir / "docker-credential-kilntest", std::filesystem::perms::owner_all);
  {
    std::ofstream(dir / "config.json") << "{\"credHelpers\":{\"" << host << "\":\"kilntest\"}}";
  }
  std::string old_path = std::getenv("PATH");
  setenv("PATH", (dir.string() + ":" + old_path).c_str(), 1);
  kiln::RegistryOptions options = plain_options();
  options.credentials = kiln::docker_config_credentials(dir / "config.json");
  auto registry = kiln::open_remote_registry(host, options);
  std::string repo = unique_repo("helper");
  auto img = push_small_image(*registry, repo, "v1", 27);
  setenv("PATH", old_path.c_str(), 1);
  CHECK(registry->get_manifest(repo, "v1").bytes == img.manifest.bytes);
  std::filesystem::remove_all(dir);
}

TEST_CASE("one registry handle used from 8 threads: one token for the shared scope, every blob stored") {
  std::string host = env("KILN_TEST_REGISTRY_TOKEN");
  auto registry = kiln::open_remote_registry(
      host, with_credentials(host, env("KILN_TEST_REGISTRY_USER"), env("KILN_TEST_REGISTRY_PASSWORD")));
  std::string repo = unique_repo("threads");
  std::vector<std::string> blobs;
  for (unsigned i = 0; i < 8; ++i) blobs.push_back(random_bytes(i % 2 ? 2 * 1024 * 1024 + i : 1000 + i, 100 + i));
  std::vector<std::thread> threads;
  std::vector<std::string> errors(blobs.size());
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        kiln::Descriptor d;
        d.digest = kiln::Digest::of(blobs[i]);
        d.size = static_cast<std::int64_t>(blobs[i].size());
        MemoryReader reader(blobs[i]);
        registry->put_blob(repo, d, reader);
        std::string back;
        registry->get_blob(repo, d, [&](const char* p, std::size_t n) { back.append(p, n); });
        if (back != blobs[i]) errors[i] = "bytes differ";
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) CHECK(e.empty());
  for (const auto& b : blobs) CHECK(storage_blob(env("KILN_TEST_REGISTRY_TOKEN_STORAGE"), kiln::Digest::of(b)) == b);
  auto requests = token_requests_for(repo);
  REQUIRE(requests.size() == 1);  // pull,push for the uploads also serves the reads
  CHECK(scopes_of(requests[0]) == std::set<std::string>{"repository:" + repo + ":pull,push"});
}

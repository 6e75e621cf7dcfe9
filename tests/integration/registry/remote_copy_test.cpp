// copy (publish), delete and inspect against the real registries of
// tests/services/up, with skopeo and the registries' storage as witnesses.
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <unistd.h>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"
#include "registry/temp_dir.hpp"
#include "registry/test_image.hpp"
#include "support.hpp"

using namespace kiln;
using kiln_test::must_run;
using kiln_test::quote;
using kiln_test::run;
using kiln_test::service;
using kiln_test::TempDir;
namespace fs = std::filesystem;

namespace {

// Unique per run: the shared registries keep what earlier runs stored.
std::string unique(const std::string& name) {
  static const std::string suffix =
      std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
  return "kiln-it/" + name + "-" + suffix;
}

RegistryOptions tls_options() {
  RegistryOptions options;
  if (auto ca = service("KILN_TEST_CA")) options.transport.ca_file = *ca;
  return options;
}

// skopeo's TLS flags for the test CA; `prefix` is "" (inspect) or "src-"/"dest-" (copy).
std::string skopeo_tls(const std::string& prefix = "") {
  auto dir = service("KILN_TEST_CERT_DIR");
  return dir ? "--" + prefix + "tls-verify=true --" + prefix + "cert-dir " + quote(*dir) : "";
}

fs::path stored_blob(const std::string& storage, const Digest& digest) {
  return fs::path(storage) / "docker/registry/v2/blobs/sha256" / digest.hex().substr(0, 2) / digest.hex() / "data";
}

std::string random_seeded_layout(TempDir& dir, const std::string& name, const std::vector<std::size_t>& sizes,
                                 unsigned seed) {
  auto layout = open_oci_layout(dir / name, true);
  kiln_test::make_image(*layout, "", "v1", sizes, seed);
  return (dir / name).string();
}

Errc code_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.code();
  }
  return Errc::ok;
}

unsigned fresh_seed() { return static_cast<unsigned>(::getpid() * 7919u + std::chrono::steady_clock::now().time_since_epoch().count()); }

}  // namespace

TEST_CASE("push from a layout, publish to a TLS registry, copy again, mount, delete") {
  auto plain = service("KILN_TEST_REGISTRY");
  auto tls = service("KILN_TEST_REGISTRY_TLS");
  auto storage = service("KILN_TEST_REGISTRY_STORAGE");
  if (!plain || !tls || !storage) return;
  TempDir dir;
  auto layout = open_oci_layout(dir / "src", true);
  auto image = kiln_test::make_image(*layout, "", "v1", {3 << 20, 12 << 20, 100}, fresh_seed());
  auto registry = open_remote_registry(*plain, {});
  std::string repo = unique("app");

  auto pushed = copy_image(*layout, "", "v1", *registry, repo, "v1");
  CHECK(pushed.blobs_copied == 4);
  // skopeo sees the same bytes; the registry's storage has every layer.
  CHECK(must_run("skopeo inspect --raw --tls-verify=false " + quote("docker://" + *plain + "/" + repo + ":v1")) ==
        image.manifest.bytes);
  for (const auto& layer : image.layers) CHECK(fs::file_size(stored_blob(*storage, layer.digest)) == std::uint64_t(layer.size));

  // Registry to registry (TLS verified with the test CA), streamed.
  auto secure = open_remote_registry(*tls, tls_options());
  CopyOptions options;
  options.extra_tags = {"latest"};
  auto published = copy_image(*registry, repo, "v1", *secure, repo, "v1", options);
  CHECK(published.blobs_copied == 4);
  CHECK(published.bytes_copied == image.config.size + (3 << 20) + (12 << 20) + 100);
  auto inspected = boost::json::parse(must_run("skopeo inspect " + skopeo_tls() + " " +
                                               quote("docker://" + *tls + "/" + repo + ":latest")))
                       .as_object();
  CHECK(inspected["Digest"].as_string() == image.manifest.digest().str());
  // The layers that arrived are the layers that left.
  must_run("skopeo copy -q --preserve-digests " + skopeo_tls("src-") + " " + quote("docker://" + *tls + "/" + repo + ":v1") +
           " " + quote("oci:" + (dir / "back").string() + ":v1"));
  CHECK(kiln_test::run("cmp " + quote((dir / "src/blobs/sha256" / image.layers[1].digest.hex()).string()) + " " +
                       quote((dir / "back/blobs/sha256" / image.layers[1].digest.hex()).string()))
            .status == 0);

  // Again: everything present, nothing uploaded.
  auto again = copy_image(*registry, repo, "v1", *secure, repo, "v2");
  CHECK(again.blobs_skipped == 4);
  CHECK(again.bytes_copied == 0);

  // Same registry, another repository: mounted, not copied.
  std::string other = unique("mounted");
  auto mounted = copy_image(*registry, repo, "v1", *registry, other, "v1");
  CHECK(mounted.blobs_mounted == 4);
  CHECK(mounted.blobs_copied == 0);
  CHECK(must_run("skopeo inspect --raw --tls-verify=false " + quote("docker://" + *plain + "/" + other + ":v1")) ==
        image.manifest.bytes);

  auto tags = registry->tags(repo);
  CHECK(tags == std::vector<std::string>{"v1"});

  auto info = boost::json::parse(inspect_image(*secure, repo, "v1")).as_object();
  CHECK(info["digest"].as_string() == image.manifest.digest().str());
  CHECK(info["layers"].as_array().size() == 3);
  CHECK(info["platform"].as_string() == "linux/amd64");

  // Delete by tag: resolved to the digest, then gone for skopeo too.
  CHECK(delete_image(*registry, other, "v1") == image.manifest.digest());
  CHECK(run("skopeo inspect --raw --tls-verify=false " + quote("docker://" + *plain + "/" + other + ":v1")).status != 0);
  CHECK(code_of([&] { delete_image(*registry, other, "v1"); }) == Errc::not_found);
}

TEST_CASE("an index with every platform, or one platform, keeps its bytes and children") {
  auto plain = service("KILN_TEST_REGISTRY");
  auto tls = service("KILN_TEST_REGISTRY_TLS");
  if (!plain || !tls) return;
  TempDir dir;
  auto layout = open_oci_layout(dir / "src", true);
  unsigned seed = fresh_seed();
  auto amd = kiln_test::make_image(*layout, "", "", {2000, 3000}, seed, "amd64");
  auto arm = kiln_test::make_image(*layout, "", "", {2000, 4000}, seed + 1, "arm64");
  auto index = kiln_test::make_index(*layout, "", "multi",
                                     {{amd.manifest, Platform{"linux", "amd64", "", ""}},
                                      {arm.manifest, Platform{"linux", "arm64", "v8", ""}}});
  auto registry = open_remote_registry(*plain, {});
  auto secure = open_remote_registry(*tls, tls_options());
  std::string repo = unique("multi");

  copy_image(*layout, "", "multi", *registry, repo, "1");
  auto result = copy_image(*registry, repo, "1", *secure, repo, "1");
  CHECK(result.descriptor.digest == index.digest());
  CHECK(result.manifests_put == 3);
  CHECK(must_run("skopeo inspect --raw " + skopeo_tls() + " " + quote("docker://" + *tls + "/" + repo + ":1")) == index.bytes);
  CHECK(must_run("skopeo inspect --raw " + skopeo_tls() + " " +
                 quote("docker://" + *tls + "/" + repo + "@" + arm.manifest.digest().str())) == arm.manifest.bytes);
  auto resolved = secure->resolve(repo, "1");
  REQUIRE(resolved);
  CHECK(resolved->media_type == media_type::oci_index);  // the full Accept list, not one child

  CopyOptions only_arm;
  only_arm.platforms = {"linux/arm64"};
  auto filtered = copy_image(*registry, repo, "1", *secure, repo, "arm", only_arm);
  CHECK(filtered.descriptor.digest != index.digest());
  Manifest got = secure->get_manifest(repo, "arm");
  auto refs = got.references();
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].digest == arm.manifest.digest());

  auto info = boost::json::parse(inspect_image(*secure, repo, "1")).as_object();
  CHECK(info["platforms"].as_array().size() == 2);

  // Deleting the index by tag deletes the index, not a child.
  CHECK(delete_image(*registry, repo, "1") == index.digest());
  CHECK(registry->resolve(repo, arm.manifest.digest().str()));
}

TEST_CASE("credentials: Basic and token registries") {
  auto basic = service("KILN_TEST_REGISTRY_BASIC");
  auto token = service("KILN_TEST_REGISTRY_TOKEN");
  auto user = service("KILN_TEST_REGISTRY_USER");
  auto password = service("KILN_TEST_REGISTRY_PASSWORD");
  if (!basic || !token || !user || !password) return;
  TempDir dir;
  std::string source = random_seeded_layout(dir, "src", {5000, 70000}, fresh_seed());
  auto layout = open_oci_layout(source, false);
  RegistryOptions options = tls_options();
  options.credentials = static_credentials({{*basic, Credential{*user, *password, ""}},
                                            {*token, Credential{*user, *password, ""}}});
  std::string repo = unique("auth");
  auto basic_registry = open_remote_registry(*basic, options);
  auto token_registry = open_remote_registry(*token, options);
  auto pushed = copy_image(*layout, "", "v1", *basic_registry, repo, "v1");
  auto published = copy_image(*basic_registry, repo, "v1", *token_registry, repo, "v1");
  CHECK(published.descriptor.digest == pushed.descriptor.digest);
  std::string creds = " --creds " + quote(*user + ":" + *password) + " ";
  for (const auto& host : {*basic, *token}) {
    auto seen = boost::json::parse(must_run("skopeo inspect" + creds + skopeo_tls() + " " +
                                            quote("docker://" + host + "/" + repo + ":v1")))
                    .as_object();
    CHECK(seen["Digest"].as_string() == pushed.descriptor.digest.str());
  }
  // Without credentials the registry refuses, and the error says so.
  auto anonymous = open_remote_registry(*basic, tls_options());
  Errc code = code_of([&] { copy_image(*layout, "", "v1", *anonymous, repo, "anon"); });
  CHECK((code == Errc::unauthorized || code == Errc::forbidden));
}

TEST_CASE("a registry without deletes gives Error(unsupported)") {
  auto nodelete = service("KILN_TEST_REGISTRY_NODELETE");
  if (!nodelete) return;
  TempDir dir;
  auto layout = open_oci_layout(random_seeded_layout(dir, "src", {100}, fresh_seed()), false);
  auto registry = open_remote_registry(*nodelete, {});
  std::string repo = unique("nodelete");
  auto pushed = copy_image(*layout, "", "v1", *registry, repo, "v1");
  try {
    delete_image(*registry, repo, "v1");
    FAIL("deleted on a registry without deletes");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::unsupported);
    MESSAGE("message: " << std::string(e.what()));
  }
  CHECK(registry->resolve(repo, "v1")->digest == pushed.descriptor.digest);
}

TEST_CASE("cancelling an upload stops it and leaves nothing under the digest") {
  auto plain = service("KILN_TEST_REGISTRY");
  auto storage = service("KILN_TEST_REGISTRY_STORAGE");
  if (!plain || !storage) return;
  TempDir dir;
  auto layout = open_oci_layout(dir / "src", true);
  auto image = kiln_test::make_image(*layout, "", "v1", {256 << 20}, fresh_seed());
  auto registry = open_remote_registry(*plain, {});
  std::string repo = unique("cancel");
  CancelToken cancel;
  EventSink on_progress = [&](const Event& e) {
    if (e.type == "blob.progress") cancel.cancel();
    return true;
  };
  CHECK(code_of([&] { copy_image(*layout, "", "v1", *registry, repo, "v1", {}, on_progress, cancel); }) ==
        Errc::cancelled);
  CHECK_FALSE(registry->resolve(repo, "v1"));
  CHECK_FALSE(fs::exists(stored_blob(*storage, image.layers[0].digest)));
}

TEST_CASE("an image skopeo pushed is copied by kiln and unpacked by umoci") {
  auto plain = service("KILN_TEST_REGISTRY");
  auto tls = service("KILN_TEST_REGISTRY_TLS");
  auto base = service("KILN_TEST_BASE_IMAGE_OCI");
  if (!plain || !tls || !base) return;
  TempDir dir;
  std::string repo = unique("busybox");
  must_run("skopeo copy -q --dest-tls-verify=false " + quote("oci:" + *base + ":latest") + " " +
           quote("docker://" + *plain + "/" + repo + ":1"));
  auto registry = open_remote_registry(*plain, {});
  auto secure = open_remote_registry(*tls, tls_options());
  copy_image(*registry, repo, "1", *secure, repo, "1");
  auto out = open_oci_layout(dir / "out", true);
  copy_image(*secure, repo, "1", *out, "", "1");
  must_run("umoci unpack --rootless --image " + quote((dir / "out").string() + ":1") + " " + quote((dir / "bundle").string()));
  CHECK(fs::exists(dir / "bundle/rootfs/bin/busybox"));
}

// Every Registry operation of RemoteRegistry against Debian's docker-registry
// (plain HTTP, deletes enabled), checked with skopeo and the storage dir.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"
#include "support.hpp"

using namespace nettest;

namespace {

kiln::Descriptor desc_of(const std::string& bytes, const char* type = kiln::media_type::oci_layer_gzip) {
  kiln::Descriptor d;
  d.media_type = type;
  d.digest = kiln::Digest::of(bytes);
  d.size = static_cast<std::int64_t>(bytes.size());
  return d;
}

std::string fetch(kiln::Registry& r, const std::string& repo, const kiln::Descriptor& d) {
  std::string out;
  r.get_blob(repo, d, [&](const char* p, std::size_t n) { out.append(p, n); });
  return out;
}

}  // namespace

TEST_CASE("blobs: monolithic, streamed and chunked uploads land byte for byte in the registry's storage") {
  std::string host = env("KILN_TEST_REGISTRY");
  std::string storage = env("KILN_TEST_REGISTRY_STORAGE");
  std::string repo = unique_repo("blobs");

  struct Case {
    const char* name;
    std::size_t size;
    std::size_t chunk;
  };
  for (Case c : {Case{"monolithic", 1000, 0}, Case{"streamed", 5 * 1024 * 1024 + 17, 0},
                 Case{"chunked", 2 * 1024 * 1024 + 5, 512 * 1024}, Case{"empty", 0, 0}}) {
    CAPTURE(c.name);
    kiln::RegistryOptions options = plain_options();
    options.chunk_size = c.chunk;
    auto registry = kiln::open_remote_registry(host, options);
    std::string data = random_bytes(c.size, static_cast<unsigned>(c.size));
    auto d = desc_of(data);
    CHECK_FALSE(registry->stat_blob(repo, d.digest).has_value());
    MemoryReader reader(data);
    registry->put_blob(repo, d, reader);
    // Independent check: the registry's own storage holds exactly these bytes.
    auto stored = storage_blob(storage, d.digest);
    REQUIRE(stored.has_value());
    CHECK(*stored == data);
    auto size = registry->stat_blob(repo, d.digest);
    REQUIRE(size.has_value());
    CHECK(*size == static_cast<std::int64_t>(c.size));
    CHECK(fetch(*registry, repo, d) == data);
  }
}

TEST_CASE("blobs: a source shorter or longer than its descriptor is refused and nothing is stored") {
  std::string host = env("KILN_TEST_REGISTRY");
  std::string storage = env("KILN_TEST_REGISTRY_STORAGE");
  auto registry = kiln::open_remote_registry(host, plain_options());
  std::string repo = unique_repo("short");
  for (std::size_t size : {std::size_t{100}, std::size_t{3 * 1024 * 1024}}) {
    std::string data = random_bytes(size, 7);
    auto d = desc_of(data);
    MemoryReader shorter(data.substr(0, size / 2));
    try {
      registry->put_blob(repo, d, shorter);
      FAIL("a short source was accepted");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == kiln::Errc::invalid_argument);
      CHECK(std::string(e.what()).find("ended after") != std::string::npos);
    }
    MemoryReader longer(data + "extra");
    CHECK_THROWS_AS(registry->put_blob(repo, d, longer), kiln::Error);
    CHECK_FALSE(storage_blob(storage, d.digest).has_value());
  }
  // Wrong digest: the registry refuses, kiln reports a digest mismatch.
  std::string data = random_bytes(500, 9);
  auto d = desc_of(data);
  MemoryReader other(random_bytes(500, 10));
  try {
    registry->put_blob(repo, d, other);
    FAIL("bytes with another digest were accepted");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::digest_mismatch);
    CHECK(e.remote_code() == "DIGEST_INVALID");
  }
  CHECK_FALSE(storage_blob(storage, d.digest).has_value());
}

TEST_CASE("manifests: all four media types round-trip byte for byte; skopeo sees the same bytes") {
  std::string host = env("KILN_TEST_REGISTRY");
  auto registry = kiln::open_remote_registry(host, plain_options());
  std::string repo = unique_repo("manifests");
  auto img = push_small_image(*registry, repo, "oci", 1);

  // The same blobs as a Docker v2 manifest, with a deliberately unusual
  // spacing: bytes are never re-serialized.
  auto docker = make_manifest(img.config, {img.layer}, kiln::media_type::docker_manifest);
  docker.bytes.insert(1, "  ");
  registry->put_manifest(repo, "docker", docker);

  std::string index_children = "[{\"mediaType\":\"" + std::string(kiln::media_type::oci_manifest) +
                               "\",\"digest\":\"" + img.manifest.digest().str() +
                               "\",\"size\":" + std::to_string(img.manifest.bytes.size()) +
                               ",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]";
  kiln::Manifest oci_index{kiln::media_type::oci_index,
                           "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kiln::media_type::oci_index) +
                               "\",\"manifests\":" + index_children + "}"};
  registry->put_manifest(repo, "index", oci_index);
  std::string list_children = "[{\"mediaType\":\"" + std::string(kiln::media_type::docker_manifest) +
                              "\",\"digest\":\"" + docker.digest().str() +
                              "\",\"size\":" + std::to_string(docker.bytes.size()) +
                              ",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]";
  kiln::Manifest docker_list{kiln::media_type::docker_list,
                             "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kiln::media_type::docker_list) +
                                 "\",\"manifests\":" + list_children + "}"};
  registry->put_manifest(repo, "list", docker_list);

  for (const auto& entry : {std::pair{"oci", img.manifest}, std::pair{"docker", docker},
                            std::pair{"index", oci_index}, std::pair{"list", docker_list}}) {
    const std::string tag = entry.first;
    const kiln::Manifest& m = entry.second;
    CAPTURE(tag);
    auto got = registry->get_manifest(repo, tag);
    CHECK(got.bytes == m.bytes);
    CHECK(got.media_type == m.media_type);
    auto by_digest = registry->get_manifest(repo, m.digest().str());
    CHECK(by_digest.bytes == m.bytes);
    auto d = registry->resolve(repo, tag);
    REQUIRE(d.has_value());
    CHECK(d->digest == m.digest());
    CHECK(d->size == static_cast<std::int64_t>(m.bytes.size()));
    CHECK(d->media_type == m.media_type);
    auto raw = skopeo_raw(host, repo, tag);
    REQUIRE(raw.has_value());
    CHECK(*raw == m.bytes);
  }
  CHECK_FALSE(registry->resolve(repo, "no-such-tag").has_value());
  CHECK_FALSE(registry->resolve(unique_repo("absent"), "latest").has_value());
  try {
    registry->get_manifest(repo, "no-such-tag");
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::not_found);
    CHECK(e.remote_code() == "MANIFEST_UNKNOWN");
    CHECK(e.http_status() == 404);
  }
  // A manifest naming a blob the repository lacks is refused with the registry's code.
  auto dangling = make_manifest(img.config, {random_bytes(64, 99)});
  try {
    registry->put_manifest(repo, "dangling", dangling);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.remote_code() == "MANIFEST_BLOB_UNKNOWN");
  }
  // put by digest must be the bytes' digest.
  CHECK_THROWS_AS(registry->put_manifest(repo, docker.digest().str(), img.manifest), kiln::Error);
}

TEST_CASE("tags and catalog list what was pushed (skopeo list-tags agrees)") {
  std::string host = env("KILN_TEST_REGISTRY");
  auto registry = kiln::open_remote_registry(host, plain_options());
  std::string repo = unique_repo("tags");
  auto img = push_small_image(*registry, repo, "t1", 3);
  registry->put_manifest(repo, "t2", img.manifest);
  registry->put_manifest(repo, "t3", img.manifest);
  auto tags = registry->tags(repo);
  std::sort(tags.begin(), tags.end());
  CHECK(tags == std::vector<std::string>{"t1", "t2", "t3"});
  std::string out;
  REQUIRE(run({"skopeo", "list-tags", "--tls-verify=false", "docker://" + host + "/" + repo}, &out, false) == 0);
  for (const auto& t : tags) CHECK(out.find("\"" + t + "\"") != std::string::npos);
  auto catalog = registry->catalog();
  CHECK(std::find(catalog.begin(), catalog.end(), repo) != catalog.end());
  try {
    registry->tags(unique_repo("absent"));
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::not_found);
    CHECK(e.remote_code() == "NAME_UNKNOWN");
  }
}

TEST_CASE("mount: 201 across repositories; a 202 answer is used as the upload session") {
  std::string host = env("KILN_TEST_REGISTRY");
  std::string storage = env("KILN_TEST_REGISTRY_STORAGE");
  auto registry = kiln::open_remote_registry(host, plain_options());
  auto other = kiln::open_remote_registry(host, plain_options());
  CHECK(registry->same_storage(*other));
  std::string from = unique_repo("mount-src");
  std::string to = unique_repo("mount-dst");
  auto img = push_small_image(*registry, from, "v1", 4);
  auto layer = desc_of(img.layer);
  CHECK(registry->mount_blob(to, layer.digest, from));
  CHECK(registry->stat_blob(to, layer.digest) == layer.size);

  // A blob the source repository does not have: the registry opens a session.
  std::string fresh = random_bytes(4096, 44);
  auto d = desc_of(fresh);
  CHECK_FALSE(registry->mount_blob(to, d.digest, from));
  MemoryReader reader(fresh);
  registry->put_blob(to, d, reader);
  CHECK(storage_blob(storage, d.digest) == fresh);
  CHECK(registry->stat_blob(to, d.digest) == d.size);
}

TEST_CASE("delete: by digest removes the manifest; skopeo no longer finds it") {
  std::string host = env("KILN_TEST_REGISTRY");
  auto registry = kiln::open_remote_registry(host, plain_options());
  std::string repo = unique_repo("delete");
  auto img = push_small_image(*registry, repo, "gone", 5);
  REQUIRE(skopeo_raw(host, repo, "gone").has_value());
  registry->delete_manifest(repo, img.manifest.digest());
  CHECK_FALSE(registry->resolve(repo, "gone").has_value());
  CHECK_FALSE(skopeo_raw(host, repo, "gone").has_value());
  try {
    registry->delete_manifest(repo, img.manifest.digest());
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::not_found);
  }
}

TEST_CASE("delete on a registry without deletes: a clear error naming storage.delete.enabled") {
  std::string host = env("KILN_TEST_REGISTRY_NODELETE");
  auto registry = kiln::open_remote_registry(host, plain_options());
  std::string repo = unique_repo("nodelete");
  auto img = push_small_image(*registry, repo, "keep", 6);
  try {
    registry->delete_manifest(repo, img.manifest.digest());
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::unsupported);
    CHECK(e.http_status() == 405);
    CHECK(std::string(e.what()).find("storage.delete.enabled") != std::string::npos);
    MESSAGE(std::string(e.what()));
  }
  CHECK(skopeo_raw(host, repo, "keep") == img.manifest.bytes);
}

TEST_CASE("read-only registry: uploads fail with a clear error") {
  std::string host = env("KILN_TEST_REGISTRY_READONLY");
  auto registry = kiln::open_remote_registry(host, plain_options());
  std::string data = random_bytes(100, 12);
  MemoryReader reader(data);
  try {
    registry->put_blob(unique_repo("ro"), desc_of(data), reader);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::unavailable);
    CHECK(std::string(e.what()).find("read-only") != std::string::npos);
  }
}

TEST_CASE("malformed names are refused before any request") {
  std::string host = env("KILN_TEST_REGISTRY");
  auto registry = kiln::open_remote_registry(host, plain_options());
  for (const char* repo : {"UPPER/case", "a/../b", "a?b", "", "a//b", "-a"}) {
    CAPTURE(repo);
    CHECK_THROWS_AS(registry->resolve(repo, "latest"), kiln::Error);
  }
  for (const char* ref : {"bad tag", "../x", "sha256:abc", ".hidden"}) {
    CAPTURE(ref);
    try {
      registry->resolve("ok/repo", ref);
      FAIL("accepted");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == kiln::Errc::invalid_argument);
    }
  }
  CHECK_THROWS_AS(kiln::open_remote_registry("host/with/path", plain_options()), kiln::Error);
}

TEST_CASE("plain HTTP is refused for a non-loopback registry that is not marked insecure") {
  kiln::RegistryOptions options;
  options.transport.connect_timeout_ms = 2000;
  options.transport.max_retries = 0;
  auto registry = kiln::open_remote_registry("http://registry.invalid:5000", options);
  try {
    registry->resolve("a/b", "latest");
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::invalid_argument);
    CHECK(std::string(e.what()).find("plain HTTP") != std::string::npos);
  }
}

TEST_CASE("skopeo copy both ways: what kiln pushes skopeo pulls, what skopeo pushes kiln reads and verifies") {
  std::string host = env("KILN_TEST_REGISTRY");
  std::string base = env("KILN_TEST_BASE_IMAGE_OCI");
  auto registry = kiln::open_remote_registry(host, plain_options());

  // skopeo -> registry -> kiln: every blob streamed and digest-verified.
  std::string from_skopeo = unique_repo("from-skopeo");
  std::string out;
  REQUIRE_MESSAGE(run({"skopeo", "copy", "--dest-tls-verify=false", "oci:" + base + ":latest",
                       "docker://" + host + "/" + from_skopeo + ":latest"},
                      &out) == 0,
                  out);
  auto manifest = registry->get_manifest(from_skopeo, "latest");
  REQUIRE(manifest.media_type == kiln::media_type::oci_manifest);
  std::int64_t total = 0;
  for (const auto& d : manifest.references()) {
    std::int64_t n = 0;
    registry->get_blob(from_skopeo, d, [&](const char*, std::size_t k) { n += static_cast<std::int64_t>(k); });
    CHECK(n == d.size);
    total += n;
  }
  CHECK(total > 0);

  // kiln -> registry -> skopeo: kiln pushes the same image under another
  // name from the layout's files; skopeo pulls it, verifying every digest,
  // and keeps the manifest's digest.
  auto read_file = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  auto blob_file = [&](const kiln::Digest& d) { return std::filesystem::path(base) / "blobs" / "sha256" / d.hex(); };
  std::string from_kiln = unique_repo("from-kiln");
  for (const auto& d : manifest.references()) {
    MemoryReader reader(read_file(blob_file(d.digest)));
    registry->put_blob(from_kiln, d, reader);
  }
  registry->put_manifest(from_kiln, "v1", manifest);
  auto dir = std::filesystem::temp_directory_path() / ("kiln-net-skopeo-" + random_hex(8));
  REQUIRE_MESSAGE(run({"skopeo", "copy", "--preserve-digests", "--src-tls-verify=false",
                       "docker://" + host + "/" + from_kiln + ":v1", "oci:" + dir.string() + ":v1"},
                      &out) == 0,
                  out);
  for (const auto& d : manifest.references()) {
    CHECK(read_file(dir / "blobs" / "sha256" / d.digest.hex()) == read_file(blob_file(d.digest)));
  }
  CHECK(read_file(dir / "blobs" / "sha256" / manifest.digest().hex()) == manifest.bytes);
  std::filesystem::remove_all(dir);
}

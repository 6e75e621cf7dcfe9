#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"

using namespace kiln;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

Manifest image(const std::string& body) { return Manifest{media_type::oci_manifest, body}; }

std::string error_of(const Manifest& m) {
  try {
    m.references();
  } catch (const Error& e) {
    CHECK(e.code() == Errc::protocol);
    return e.what();
  }
  FAIL("references() accepted an invalid manifest");
  return {};
}

}  // namespace

TEST_CASE("media type predicates") {
  CHECK(media_type::is_index(media_type::oci_index));
  CHECK(media_type::is_index(media_type::docker_list));
  CHECK_FALSE(media_type::is_index(media_type::oci_manifest));
  CHECK(media_type::is_manifest(media_type::docker_manifest));
  CHECK_FALSE(media_type::is_manifest(media_type::oci_config));
}

TEST_CASE("Platform::str includes the variant only when set") {
  CHECK(Platform{"linux", "amd64", "", ""}.str() == "linux/amd64");
  CHECK(Platform{"linux", "arm64", "v8", ""}.str() == "linux/arm64/v8");
}

TEST_CASE("Descriptor::to_json writes the OCI fields") {
  Descriptor d;
  d.media_type = media_type::oci_layer;
  d.digest = Digest::parse(kDigestA);
  d.size = 42;
  d.platform = Platform{"linux", "arm", "v7", ""};
  d.annotations["org.opencontainers.image.ref.name"] = "1.0";
  auto v = boost::json::parse(d.to_json()).as_object();
  CHECK(v["mediaType"].as_string() == media_type::oci_layer);
  CHECK(v["digest"].as_string() == kDigestA);
  CHECK(v["size"].as_int64() == 42);
  CHECK(v["platform"].as_object()["variant"].as_string() == "v7");
  CHECK(v["annotations"].as_object()["org.opencontainers.image.ref.name"].as_string() == "1.0");
  Descriptor bare;
  bare.media_type = media_type::oci_config;
  bare.digest = Digest::parse(kDigestB);
  auto b = boost::json::parse(bare.to_json()).as_object();
  CHECK_FALSE(b.contains("platform"));
  CHECK_FALSE(b.contains("annotations"));
}

TEST_CASE("references of an image manifest: config first, then layers") {
  Manifest m = image(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + kDigestA + R"(","size":7},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + kDigestB + R"(","size":9,
               "annotations":{"a":"b"}}]})");
  auto refs = m.references();
  REQUIRE(refs.size() == 2);
  CHECK(refs[0].digest.str() == kDigestA);
  CHECK(refs[0].size == 7);
  CHECK(refs[1].media_type == media_type::oci_layer);
  CHECK(refs[1].annotations.at("a") == "b");
  CHECK(m.descriptor().digest == Digest::of(m.bytes));
  CHECK(m.descriptor().size == static_cast<std::int64_t>(m.bytes.size()));
}

TEST_CASE("references of an index carry platforms") {
  Manifest m{media_type::docker_list, R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" + kDigestA +
                                           R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})"};
  auto refs = m.references();
  REQUIRE(refs.size() == 1);
  REQUIRE(refs[0].platform);
  CHECK(refs[0].platform->str() == "linux/arm64/v8");
}

TEST_CASE("strict parsing names the bad field") {
  std::string config = R"("config":{"mediaType":"x","digest":")" + kDigestA + R"(","size":1})";
  CHECK(error_of(image("[]")).find("not a JSON object") != std::string::npos);
  CHECK(error_of(image("{")).find("not valid JSON") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,"layers":[]})")).find("manifest.config: missing") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,)" + config + "}")).find("manifest.layers: missing") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,)" + config + R"(,"layers":{}})")).find("manifest.layers: expected an array") !=
        std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":1,)" + config + R"(,"layers":[]})")).find("schemaVersion") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:xyz","size":1},"layers":[]})"))
            .find("manifest.config.digest") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kDigestA +
                       R"(","size":"1"},"layers":[]})"))
            .find("manifest.config.size: expected an integer") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kDigestA +
                       R"(","size":-1},"layers":[]})"))
            .find("must not be negative") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,)" + config + R"(,"layers":[{"digest":")" + kDigestB + R"(","size":1}]})"))
            .find("manifest.layers[0].mediaType: missing") != std::string::npos);
  CHECK(error_of(image(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)" + config +
                       R"(,"layers":[]})"))
            .find("served as") != std::string::npos);
  CHECK(error_of(Manifest{media_type::oci_index, R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":")" +
                                                     kDigestA + R"(","size":1,"platform":{"os":"linux"}}]})"})
            .find("manifest.manifests[0].platform.architecture: missing") != std::string::npos);
  CHECK(error_of(Manifest{media_type::docker_manifest, R"({"schemaVersion":2,)" + config + R"(,"layers":[]})"})
            .find("mediaType: missing") != std::string::npos);
  CHECK(error_of(Manifest{"text/plain", "{}"}).find("text/plain") != std::string::npos);
}

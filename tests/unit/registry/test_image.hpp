// Builds small, valid images (random incompressible layers, a config, a
// manifest) in any Registry through its public interface, for tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "kiln/registry.hpp"

namespace kiln_test {

struct TestImage {
  kiln::Manifest manifest;
  kiln::Descriptor config;
  std::vector<kiln::Descriptor> layers;
};

class StringReader : public kiln::BlobReader {
 public:
  explicit StringReader(std::string data) : data_(std::move(data)) {}
  std::size_t read(char* buffer, std::size_t size) override {
    std::size_t n = std::min(size, data_.size() - position_);
    std::copy_n(data_.data() + position_, n, buffer);
    position_ += n;
    return n;
  }
  bool seek(std::uint64_t offset) override {
    if (offset > data_.size()) return false;
    position_ = offset;
    return true;
  }

 private:
  std::string data_;
  std::size_t position_ = 0;
};

inline std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 engine(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(engine() & 0xff);
  return out;
}

inline kiln::Descriptor put_bytes(kiln::Registry& registry, const std::string& repository, const std::string& bytes,
                                  const std::string& media_type) {
  kiln::Descriptor d;
  d.media_type = media_type;
  d.digest = kiln::Digest::of(bytes);
  d.size = static_cast<std::int64_t>(bytes.size());
  StringReader reader(bytes);
  registry.put_blob(repository, d, reader);
  return d;
}

inline std::string descriptor_json(const kiln::Descriptor& d) { return d.to_json(); }

// An image whose layers are random bytes of the given sizes; tagged `tag`
// unless it is empty (then stored by digest only).
inline TestImage make_image(kiln::Registry& registry, const std::string& repository, const std::string& tag,
                            const std::vector<std::size_t>& layer_sizes, unsigned seed = 1,
                            const std::string& architecture = "amd64") {
  TestImage image;
  std::string diff_ids;
  for (std::size_t i = 0; i < layer_sizes.size(); ++i) {
    image.layers.push_back(put_bytes(registry, repository, random_bytes(layer_sizes[i], seed * 100 + unsigned(i)),
                                     kiln::media_type::oci_layer));
    diff_ids += (i ? "," : "") + ("\"" + image.layers.back().digest.str() + "\"");
  }
  std::string config = R"({"architecture":")" + architecture + R"(","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[)" +
                       diff_ids + R"(]},"created":"2024-01-01T00:00:00Z","history":[{"created":"2024-01-01T00:00:00Z","created_by":"kiln test )" + std::to_string(seed) + R"("}]})";
  image.config = put_bytes(registry, repository, config, kiln::media_type::oci_config);
  std::string layers;
  for (std::size_t i = 0; i < image.layers.size(); ++i) layers += (i ? "," : "") + image.layers[i].to_json();
  image.manifest.media_type = kiln::media_type::oci_manifest;
  image.manifest.bytes = R"({"schemaVersion":2,"mediaType":")" + std::string(kiln::media_type::oci_manifest) +
                         R"(","config":)" + image.config.to_json() + R"(,"layers":[)" + layers + "]}";
  registry.put_manifest(repository, tag.empty() ? image.manifest.digest().str() : tag, image.manifest);
  return image;
}

// An index over images already stored (by digest) in `registry`.
inline kiln::Manifest make_index(kiln::Registry& registry, const std::string& repository, const std::string& tag,
                                 const std::vector<std::pair<kiln::Manifest, kiln::Platform>>& children) {
  std::string list;
  for (std::size_t i = 0; i < children.size(); ++i) {
    kiln::Descriptor d = children[i].first.descriptor();
    d.platform = children[i].second;
    list += (i ? "," : "") + d.to_json();
  }
  kiln::Manifest index;
  index.media_type = kiln::media_type::oci_index;
  index.bytes = R"({"schemaVersion":2,"mediaType":")" + std::string(kiln::media_type::oci_index) +
                R"(","manifests":[)" + list + "]}";
  registry.put_manifest(repository, tag, index);
  return index;
}

}  // namespace kiln_test

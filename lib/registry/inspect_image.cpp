// inspect_image: what an image is made of, as one JSON document:
//   {mediaType, digest, size, [platform], [config], [layers], [platforms], totalSize}
// totalSize counts every manifest, config and layer once (shared layers of a
// multi-platform index are not counted twice).
#include <set>

#include "kiln/registry.hpp"
#include "registry/json_util.hpp"

namespace kiln {
namespace json = boost::json;
using namespace registry_detail;

namespace {

constexpr std::int64_t kMaxConfigSize = 4 << 20;

json::object brief(const Descriptor& d) {
  json::object o;
  o["mediaType"] = d.media_type;
  o["digest"] = d.digest.str();
  o["size"] = d.size;
  return o;
}

// "os/arch[/variant]" from an image config, or "" when it is not an image config.
std::string config_platform(Registry& registry, const std::string& repository, const Descriptor& config,
                            const CancelToken& cancel) {
  if ((config.media_type != media_type::oci_config && config.media_type != media_type::docker_config) ||
      config.size > kMaxConfigSize) {
    return {};
  }
  std::string bytes;
  registry.get_blob(repository, config, [&](const char* data, std::size_t size) { bytes.append(data, size); }, cancel);
  json::object document = parse_object(bytes, "image config " + config.digest.str());
  Platform platform;
  platform.os = optional_string(document, "os", "config");
  platform.architecture = optional_string(document, "architecture", "config");
  platform.variant = optional_string(document, "variant", "config");
  if (platform.os.empty() || platform.architecture.empty()) return {};
  return platform.str();
}

json::object describe_image(Registry& registry, const std::string& repository, const Manifest& manifest,
                            std::set<Digest>& counted, std::int64_t& total, const CancelToken& cancel) {
  json::object out;
  std::vector<Descriptor> references = manifest.references();
  const Descriptor& config = references.at(0);
  out["config"] = brief(config);
  std::string platform = config_platform(registry, repository, config, cancel);
  if (!platform.empty()) out["platform"] = platform;
  json::array layers;
  std::int64_t image_size = static_cast<std::int64_t>(manifest.bytes.size()) + config.size;
  if (counted.insert(config.digest).second) total += config.size;
  for (std::size_t i = 1; i < references.size(); ++i) {
    layers.push_back(brief(references[i]));
    image_size += references[i].size;
    if (counted.insert(references[i].digest).second) total += references[i].size;
  }
  out["layers"] = std::move(layers);
  out["imageSize"] = image_size;
  return out;
}

}  // namespace

std::string inspect_image(Registry& registry, const std::string& repository, const std::string& reference,
                          const CancelToken& cancel) {
  Manifest manifest = registry.get_manifest(repository, reference, cancel);
  json::object out;
  out["mediaType"] = manifest.media_type;
  out["digest"] = manifest.digest().str();
  out["size"] = static_cast<std::int64_t>(manifest.bytes.size());
  std::set<Digest> counted{manifest.digest()};
  std::int64_t total = static_cast<std::int64_t>(manifest.bytes.size());
  if (manifest.is_index()) {
    json::array platforms;
    for (const auto& child : manifest.references()) {
      cancel.check();
      json::object entry = brief(child);
      if (child.platform) entry["platform"] = child.platform->str();
      if (counted.insert(child.digest).second) total += child.size;
      if (media_type::is_manifest(child.media_type)) {
        Manifest child_manifest = registry.get_manifest(repository, child.digest.str(), cancel);
        json::object image = describe_image(registry, repository, child_manifest, counted, total, cancel);
        if (!child.platform && image.contains("platform")) entry["platform"] = image["platform"];
        entry["config"] = image["config"];
        entry["layers"] = image["layers"];
        entry["imageSize"] = image["imageSize"];
      }
      platforms.push_back(std::move(entry));
    }
    out["platforms"] = std::move(platforms);
  } else {
    json::object image = describe_image(registry, repository, manifest, counted, total, cancel);
    for (auto& [key, value] : image) {
      if (key != "imageSize") out[key] = value;
    }
  }
  out["totalSize"] = total;
  return json::serialize(out);
}

}  // namespace kiln

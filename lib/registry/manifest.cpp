// Media types, descriptors and the structure of manifests. Manifest bytes are
// only ever read here, never re-serialized: the digest of a manifest is the
// digest of the bytes the registry gave us.
#include <boost/json.hpp>

#include "kiln/registry.hpp"
#include "registry/json_util.hpp"

namespace kiln {
namespace json = boost::json;
using namespace registry_detail;

namespace media_type {

bool is_index(std::string_view type) { return type == oci_index || type == docker_list; }

bool is_manifest(std::string_view type) { return type == oci_manifest || type == docker_manifest; }

}  // namespace media_type

std::string Platform::str() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

std::string Descriptor::to_json() const { return json::serialize(descriptor_to_object(*this)); }

Descriptor Manifest::descriptor() const {
  Descriptor out;
  out.media_type = media_type;
  out.digest = digest();
  out.size = static_cast<std::int64_t>(bytes.size());
  return out;
}

std::vector<Descriptor> Manifest::references() const {
  if (!media_type::is_index(media_type) && !media_type::is_manifest(media_type)) {
    throw Error(Errc::protocol, "manifest media type \"" + shorten(media_type) +
                                    "\" is not an OCI or Docker v2 image manifest or index");
  }
  json::object document = parse_object(bytes, "manifest (" + media_type + ")");
  if (const json::value* declared = find(document, "mediaType")) {
    if (!declared->is_string()) throw Error(Errc::protocol, "manifest.mediaType: expected a string");
    if (declared->get_string() != media_type) {
      throw Error(Errc::protocol, "manifest.mediaType is \"" + shorten(declared->get_string()) +
                                      "\" but the manifest was served as \"" + media_type + "\"");
    }
  } else if (media_type == media_type::docker_manifest || media_type == media_type::docker_list) {
    // Docker v2 schema 2 requires the field; OCI only recommends it.
    throw Error(Errc::protocol, "manifest.mediaType: missing (required for " + media_type + ")");
  }
  const json::value* schema = find(document, "schemaVersion");
  if (!schema) throw Error(Errc::protocol, "manifest.schemaVersion: missing");
  if (!schema->is_int64() || schema->get_int64() != 2) {
    throw Error(Errc::protocol, "manifest.schemaVersion: expected 2");
  }

  std::vector<Descriptor> out;
  if (is_index()) {
    const json::array& manifests = required_array(document, "manifests", "manifest");
    out.reserve(manifests.size());
    for (std::size_t i = 0; i < manifests.size(); ++i) {
      out.push_back(descriptor_from_json(manifests[i], "manifest.manifests[" + std::to_string(i) + "]"));
    }
    return out;
  }
  const json::value* config = find(document, "config");
  if (!config) throw Error(Errc::protocol, "manifest.config: missing");
  out.push_back(descriptor_from_json(*config, "manifest.config"));
  const json::array& layers = required_array(document, "layers", "manifest");
  out.reserve(layers.size() + 1);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    out.push_back(descriptor_from_json(layers[i], "manifest.layers[" + std::to_string(i) + "]"));
  }
  return out;
}

}  // namespace kiln

#include "registry/oci_index.hpp"

#include "registry/json_util.hpp"

namespace kiln::registry_detail {
namespace json = boost::json;

LayoutIndex parse_layout_index(std::string_view text, const std::string& path) {
  LayoutIndex index;
  index.document = parse_object(text, path);
  const json::value* schema = find(index.document, "schemaVersion");
  if (!schema) throw Error(Errc::protocol, path + ": schemaVersion: missing");
  if (!schema->is_int64() || schema->get_int64() != 2) {
    throw Error(Errc::protocol, path + ": schemaVersion: expected 2");
  }
  if (const json::value* type = find(index.document, "mediaType")) {
    if (!type->is_string() || type->get_string() != media_type::oci_index) {
      throw Error(Errc::protocol, path + ": mediaType: expected \"" + std::string(media_type::oci_index) + "\"");
    }
  }
  const json::value* manifests = find(index.document, "manifests");
  if (!manifests) throw Error(Errc::protocol, path + ": manifests: missing");
  if (!manifests->is_array()) throw Error(Errc::protocol, path + ": manifests: expected an array");
  for (std::size_t i = 0; i < manifests->get_array().size(); ++i) {
    index.manifests.push_back(
        descriptor_from_json(manifests->get_array()[i], path + ": manifests[" + std::to_string(i) + "]"));
    index.raw.push_back(manifests->get_array()[i]);
  }
  return index;
}

std::string ref_name(const Descriptor& descriptor) {
  auto it = descriptor.annotations.find(kRefNameAnnotation);
  return it == descriptor.annotations.end() ? std::string() : it->second;
}

std::string serialize_layout_index(const LayoutIndex& index, const std::vector<Descriptor>& manifests) {
  json::object document = index.document;
  document["schemaVersion"] = 2;
  document["mediaType"] = media_type::oci_index;
  json::array list;
  for (const auto& descriptor : manifests) {
    json::value entry = descriptor_to_object(descriptor);
    for (std::size_t i = 0; i < index.manifests.size() && i < index.raw.size(); ++i) {
      const Descriptor& old = index.manifests[i];
      if (old.digest == descriptor.digest && old.media_type == descriptor.media_type &&
          old.annotations == descriptor.annotations) {
        entry = index.raw[i];
        break;
      }
    }
    list.push_back(std::move(entry));
  }
  document["manifests"] = std::move(list);
  return json::serialize(document);
}

}  // namespace kiln::registry_detail

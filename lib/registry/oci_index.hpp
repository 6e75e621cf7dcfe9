// index.json of an OCI image layout: the list of top-level manifests, with
// tags in the org.opencontainers.image.ref.name annotation.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/registry.hpp"

namespace kiln::registry_detail {

inline constexpr const char* kRefNameAnnotation = "org.opencontainers.image.ref.name";

struct LayoutIndex {
  boost::json::object document;  // kept whole so unknown fields survive a rewrite
  std::vector<Descriptor> manifests;
  // The entries as read, so that a rewrite keeps fields kiln does not model
  // (urls, artifactType, data) of the entries it leaves alone.
  std::vector<boost::json::value> raw;
};

// Throws Error(protocol) naming `path` and the bad field.
LayoutIndex parse_layout_index(std::string_view text, const std::string& path);

// The tag of an index entry, "" when untagged.
std::string ref_name(const Descriptor& descriptor);

// Serializes `index` with its manifests replaced by `manifests`.
std::string serialize_layout_index(const LayoutIndex& index, const std::vector<Descriptor>& manifests);

}  // namespace kiln::registry_detail

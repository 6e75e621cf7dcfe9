// Strict reading of OCI JSON documents (manifests, indexes, index.json):
// every wrong type or missing field is an Error naming the field, because the
// documents come from registries and directories kiln does not control.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"

namespace kiln::registry_detail {

// Parses `text` as a JSON object; `what` names the document in errors.
boost::json::object parse_object(std::string_view text, const std::string& what, Errc code = Errc::protocol);

// Field accessors; `where` is the path of the containing object ("manifest",
// "manifests[2]") so that errors read "manifests[2].digest: expected a string".
const boost::json::value* find(const boost::json::object& object, std::string_view key);
std::string required_string(const boost::json::object& object, std::string_view key, const std::string& where,
                            Errc code = Errc::protocol);
std::string optional_string(const boost::json::object& object, std::string_view key, const std::string& where,
                            Errc code = Errc::protocol);
std::int64_t required_size(const boost::json::object& object, std::string_view key, const std::string& where,
                           Errc code = Errc::protocol);
const boost::json::array& required_array(const boost::json::object& object, std::string_view key,
                                         const std::string& where, Errc code = Errc::protocol);
const boost::json::object& as_object(const boost::json::value& value, const std::string& where,
                                     Errc code = Errc::protocol);

// An OCI content descriptor (mediaType, digest, size, platform, annotations).
Descriptor descriptor_from_json(const boost::json::value& value, const std::string& where,
                                Errc code = Errc::protocol);
boost::json::object descriptor_to_object(const Descriptor& descriptor);
boost::json::object platform_to_object(const Platform& platform);

// Short form of untrusted text for messages.
std::string shorten(std::string_view text, std::size_t limit = 120);

}  // namespace kiln::registry_detail

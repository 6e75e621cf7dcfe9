#include "registry/json_util.hpp"

namespace kiln::registry_detail {
namespace json = boost::json;

namespace {

[[noreturn]] void fail(Errc code, const std::string& where, const std::string& problem) {
  throw Error(code, where + ": " + problem);
}

std::string join(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

}  // namespace

std::string shorten(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

json::object parse_object(std::string_view text, const std::string& what, Errc code) {
  json::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  json::value value = json::parse(text, ec, {}, options);
  if (ec) throw Error(code, what + " is not valid JSON: " + ec.message());
  if (!value.is_object()) throw Error(code, what + " is not a JSON object");
  return std::move(value.as_object());
}

const json::value* find(const json::object& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->value();
}

const json::object& as_object(const json::value& value, const std::string& where, Errc code) {
  if (!value.is_object()) fail(code, where, "expected an object");
  return value.get_object();
}

std::string required_string(const json::object& object, std::string_view key, const std::string& where, Errc code) {
  const json::value* value = find(object, key);
  if (!value) fail(code, join(where, key), "missing");
  if (!value->is_string()) fail(code, join(where, key), "expected a string");
  return std::string(value->get_string());
}

std::string optional_string(const json::object& object, std::string_view key, const std::string& where, Errc code) {
  const json::value* value = find(object, key);
  if (!value) return {};
  if (!value->is_string()) fail(code, join(where, key), "expected a string");
  return std::string(value->get_string());
}

std::int64_t required_size(const json::object& object, std::string_view key, const std::string& where, Errc code) {
  const json::value* value = find(object, key);
  if (!value) fail(code, join(where, key), "missing");
  if (value->is_int64()) {
    if (value->get_int64() < 0) fail(code, join(where, key), "must not be negative");
    return value->get_int64();
  }
  if (value->is_uint64()) fail(code, join(where, key), "is too large");
  fail(code, join(where, key), "expected an integer");
}

const json::array& required_array(const json::object& object, std::string_view key, const std::string& where,
                                  Errc code) {
  const json::value* value = find(object, key);
  if (!value) fail(code, join(where, key), "missing");
  if (!value->is_array()) fail(code, join(where, key), "expected an array");
  return value->get_array();
}

Descriptor descriptor_from_json(const json::value& value, const std::string& where, Errc code) {
  const json::object& object = as_object(value, where, code);
  Descriptor descriptor;
  descriptor.media_type = required_string(object, "mediaType", where, code);
  std::string digest = required_string(object, "digest", where, code);
  try {
    descriptor.digest = Digest::parse(digest);
  } catch (const Error& e) {
    fail(code, join(where, "digest"), e.what());
  }
  descriptor.size = required_size(object, "size", where, code);
  if (const json::value* platform = find(object, "platform")) {
    std::string at = join(where, "platform");
    const json::object& p = as_object(*platform, at, code);
    Platform parsed;
    parsed.os = required_string(p, "os", at, code);
    parsed.architecture = required_string(p, "architecture", at, code);
    parsed.variant = optional_string(p, "variant", at, code);
    parsed.os_version = optional_string(p, "os.version", at, code);
    descriptor.platform = std::move(parsed);
  }
  if (const json::value* annotations = find(object, "annotations")) {
    std::string at = join(where, "annotations");
    for (const auto& [key, text] : as_object(*annotations, at, code)) {
      if (!text.is_string()) fail(code, join(at, key), "expected a string");
      descriptor.annotations.emplace(std::string(key), std::string(text.get_string()));
    }
  }
  return descriptor;
}

json::object platform_to_object(const Platform& platform) {
  json::object object;
  object["architecture"] = platform.architecture;
  object["os"] = platform.os;
  if (!platform.os_version.empty()) object["os.version"] = platform.os_version;
  if (!platform.variant.empty()) object["variant"] = platform.variant;
  return object;
}

json::object descriptor_to_object(const Descriptor& descriptor) {
  json::object object;
  object["mediaType"] = descriptor.media_type;
  object["digest"] = descriptor.digest.str();
  object["size"] = descriptor.size;
  if (descriptor.platform) object["platform"] = platform_to_object(*descriptor.platform);
  if (!descriptor.annotations.empty()) {
    json::object annotations;
    for (const auto& [key, text] : descriptor.annotations) annotations[key] = text;
    object["annotations"] = std::move(annotations);
  }
  return object;
}

}  // namespace kiln::registry_detail

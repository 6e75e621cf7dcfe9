#include "options.hpp"

#include "kiln/error.hpp"

namespace kiln::capi {

namespace json = boost::json;

namespace {

std::string range(std::int64_t lo, std::int64_t hi) {
  return "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
}

}  // namespace

json::object parse_options(const char* text, std::string_view param) {
  if (!text || !*text) return {};
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) throw Error(Errc::invalid_argument, std::string(param) + " is not valid JSON: " + ec.message());
  if (!v.is_object()) throw Error(Errc::invalid_argument, std::string(param) + " must be a JSON object");
  return std::move(v.get_object());
}

void bad_field(std::string_view param, std::string_view field, std::string_view expected) {
  throw Error(Errc::invalid_argument,
              std::string(param) + ": field '" + std::string(field) + "' must be " + std::string(expected));
}

void unknown_field(std::string_view param, std::string_view field, std::string_view known) {
  throw Error(Errc::invalid_argument, std::string(param) + ": unknown field '" + std::string(field) + "' (known: " +
                                          std::string(known) + ")");
}

std::string string_field(const json::value& v, std::string_view param, std::string_view field) {
  if (!v.is_string()) bad_field(param, field, "a string");
  return std::string(v.get_string());
}

bool bool_field(const json::value& v, std::string_view param, std::string_view field) {
  if (!v.is_bool()) bad_field(param, field, "true or false");
  return v.get_bool();
}

std::int64_t int_field(const json::value& v, std::string_view param, std::string_view field, std::int64_t lo,
                       std::int64_t hi) {
  std::int64_t n = 0;
  if (v.is_int64()) n = v.get_int64();
  else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(hi)) n = static_cast<std::int64_t>(v.get_uint64());
  else bad_field(param, field, range(lo, hi));
  if (n < lo || n > hi) bad_field(param, field, range(lo, hi));
  return n;
}

std::vector<std::string> string_list(const json::value& v, std::string_view param, std::string_view field) {
  if (!v.is_array()) bad_field(param, field, "an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v.get_array()) {
    if (!item.is_string()) bad_field(param, field, "an array of strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

}  // namespace kiln::capi

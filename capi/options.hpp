// One reading of the JSON option documents of kiln.h, so that every section
// words a bad option the same way:
//   "<param>: field 'X' must be <what it must be>"
//   "<param>: unknown field 'X' (known: a, b)"
//   "<param> is not valid JSON: ..." / "<param> must be a JSON object"
// where <param> is the name of the C parameter ("options_json").
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::capi {

// NULL or "" is an empty object.
boost::json::object parse_options(const char* text, std::string_view param);

[[noreturn]] void bad_field(std::string_view param, std::string_view field, std::string_view expected);
[[noreturn]] void unknown_field(std::string_view param, std::string_view field, std::string_view known);

std::string string_field(const boost::json::value& v, std::string_view param, std::string_view field);
bool bool_field(const boost::json::value& v, std::string_view param, std::string_view field);
std::int64_t int_field(const boost::json::value& v, std::string_view param, std::string_view field, std::int64_t lo,
                       std::int64_t hi);
std::vector<std::string> string_list(const boost::json::value& v, std::string_view param, std::string_view field);

}  // namespace kiln::capi

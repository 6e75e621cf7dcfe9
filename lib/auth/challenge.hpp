// WWW-Authenticate parsing (RFC 7235): several challenges per header and
// several headers, quoted strings with commas and backslash escapes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::auth {

struct Challenge {
  std::string scheme;                         // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower case
  std::string token68;                        // e.g. "Negotiate abc=="
  std::optional<std::string> param(const std::string& name) const {
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return it->second;
  }
};

// Never throws; unparsable parts are skipped.
std::vector<Challenge> parse_www_authenticate(std::string_view header_value);
std::vector<Challenge> parse_www_authenticate(const std::vector<std::string>& header_values);

}  // namespace kiln::auth

// RFC 8288 `Link` header parsing (registry pagination: `<url>; rel="next"`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::http {

struct Link {
  std::string target;  // as written between < >, not resolved
  std::vector<std::pair<std::string, std::string>> params;  // names lower-cased
  std::optional<std::string> param(std::string_view name) const;
  bool has_rel(std::string_view rel) const;  // rel may list several types
};

// Never throws; malformed elements are skipped.
std::vector<Link> parse_link_header(std::string_view value);

// The target of the first rel="next" link among all values, or nullopt.
std::optional<std::string> next_link(const std::vector<std::string>& link_header_values);

}  // namespace kiln::http

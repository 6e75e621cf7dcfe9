// Path pieces shared by the REST, watch, logs, exec and proxy code.
#pragma once

#include <string>
#include <string_view>

namespace kiln::kube {

// Error(invalid_argument) naming `what` unless `name` is a usable path
// segment (non-empty, no '/', '?', '#', '%', not "." or "..").
void check_name(std::string_view name, std::string_view what);

// Percent-encodes a query value.
std::string query_escape(std::string_view value);

}  // namespace kiln::kube

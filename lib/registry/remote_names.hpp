// Validation of what goes into a Distribution API path, so that a name can
// never change the URL's meaning ("?", "#", "..", "%").
#pragma once

#include <string>

namespace kiln::registry_detail {

// Throws Error(invalid_argument) naming the bad part.
void check_repository(const std::string& repository);
// A tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) or a digest.
void check_reference(const std::string& reference);

}  // namespace kiln::registry_detail

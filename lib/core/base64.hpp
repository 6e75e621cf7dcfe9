// Standard base64 (RFC 4648 §4): Basic credentials, docker config `auth`,
// kubeconfig *-data fields and Kubernetes secrets share this one codec.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln::core {

std::string base64_encode(std::string_view bytes);

// nullopt when `text` is not base64. Tolerated, because real producers emit
// them: line breaks and blanks anywhere (kubeconfigs wrap *-data at 76
// columns) and missing padding (some generators strip '='). Rejected: any
// other byte, data after padding, more than two '=' and a lone final symbol.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kiln::core

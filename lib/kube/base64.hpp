// Base64 (RFC 4648, standard alphabet) for kubeconfig *-data fields and
// Kubernetes secrets. Decoding tolerates line breaks (kubeconfigs wrap them)
// and rejects anything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln::kube {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kiln::kube

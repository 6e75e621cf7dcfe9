// Standard base64 (RFC 4648 §4) for Basic credentials and docker config `auth`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln::auth {

std::string base64_encode(std::string_view bytes);
// Accepts missing padding; nullopt for any other malformation.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kiln::auth

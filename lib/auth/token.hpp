// Bearer token responses (distribution token spec + OAuth2 variant).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace kiln::auth {

struct TokenResponse {
  std::string token;          // `token`, else `access_token`
  std::chrono::seconds expires_in{60};
  std::string refresh_token;  // OAuth2 only
};

// Throws Error(protocol) naming `source` (the realm, without query) when the
// body is not a JSON object with a non-empty string token.
TokenResponse parse_token_response(std::string_view body, const std::string& source);

}  // namespace kiln::auth

#include "auth/token.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "kiln/error.hpp"

namespace kiln::auth {

TokenResponse parse_token_response(std::string_view body, const std::string& source) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) {
    throw Error(Errc::protocol, "token server " + source + " answered something that is not a JSON object");
  }
  const auto& obj = value.as_object();
  TokenResponse r;
  for (const char* name : {"token", "access_token"}) {
    auto* v = obj.if_contains(name);
    if (v != nullptr && v->is_string() && !v->as_string().empty()) {
      r.token = std::string(v->as_string());
      break;
    }
  }
  if (r.token.empty()) throw Error(Errc::protocol, "token server " + source + " answered without a token");
  for (char c : r.token) {
    // The token goes into a header line: refuse what would break it.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw Error(Errc::protocol, "token server " + source + " sent a token with control characters");
    }
  }
  if (auto* v = obj.if_contains("expires_in"); v != nullptr) {
    long long seconds = 0;
    if (v->is_int64()) seconds = v->as_int64();
    else if (v->is_uint64()) seconds = static_cast<long long>(std::min<std::uint64_t>(v->as_uint64(), 1u << 30));
    else if (v->is_double()) {
      double d = v->as_double();
      seconds = d >= 0 && d < 1e9 ? static_cast<long long>(d) : (d >= 1e9 ? (1 << 30) : 0);
    }
    // The spec's floor: a shorter lifetime is treated as 60 s.
    if (seconds < 60) seconds = 60;
    if (seconds > (1 << 30)) seconds = 1 << 30;
    r.expires_in = std::chrono::seconds(seconds);
  }
  if (auto* v = obj.if_contains("refresh_token"); v != nullptr && v->is_string()) {
    r.refresh_token = std::string(v->as_string());
  }
  return r;
}

}  // namespace kiln::auth

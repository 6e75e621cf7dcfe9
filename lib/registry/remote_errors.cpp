#include "registry/remote_errors.hpp"

#include <boost/json.hpp>

namespace kiln::registry_detail {
namespace {

std::string clip(std::string s, std::size_t limit) {
  if (s.size() > limit) {
    s.resize(limit);
    s += "...";
  }
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return s;
}

}  // namespace

RemoteErrorInfo parse_remote_error(const std::string& body) {
  RemoteErrorInfo info;
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return info;
  auto* errors = value.as_object().if_contains("errors");
  if (errors == nullptr || !errors->is_array() || errors->as_array().empty()) return info;
  const auto& first = errors->as_array().front();
  if (!first.is_object()) return info;
  const auto& obj = first.as_object();
  if (auto* c = obj.if_contains("code"); c != nullptr && c->is_string()) info.code = clip(std::string(c->as_string()), 64);
  if (auto* m = obj.if_contains("message"); m != nullptr && m->is_string()) {
    info.message = clip(std::string(m->as_string()), 300);
  }
  if (auto* d = obj.if_contains("detail"); d != nullptr && !d->is_null()) {
    std::string detail = d->is_string() ? std::string(d->as_string()) : boost::json::serialize(*d);
    if (!detail.empty()) info.message += (info.message.empty() ? "" : " ") + ("(" + clip(detail, 200) + ")");
  }
  return info;
}

Errc errc_for(const std::string& code, long status) {
  if (code == "BLOB_UNKNOWN" || code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN" ||
      code == "BLOB_UPLOAD_UNKNOWN") {
    return Errc::not_found;
  }
  if (code == "UNAUTHORIZED") return Errc::unauthorized;
  if (code == "DENIED") return Errc::forbidden;
  if (code == "UNSUPPORTED") return Errc::unsupported;
  if (code == "DIGEST_INVALID") return Errc::digest_mismatch;
  if (code == "TOOMANYREQUESTS") return Errc::unavailable;
  if (code == "SIZE_INVALID" || code == "NAME_INVALID" || code == "TAG_INVALID" || code == "MANIFEST_INVALID" ||
      code == "MANIFEST_BLOB_UNKNOWN" || code == "MANIFEST_UNVERIFIED" || code == "BLOB_UPLOAD_INVALID" ||
      code == "PAGINATION_NUMBER_INVALID") {
    return Errc::invalid_argument;
  }
  switch (status) {
    case 400: return Errc::invalid_argument;
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 405: return Errc::unsupported;
    case 409: return Errc::conflict;
    case 413: return Errc::too_large;
    case 429: return Errc::unavailable;
    default: break;
  }
  if (status >= 500) return Errc::server;
  return Errc::protocol;
}

Error response_error(const http::Response& response, const std::string& what) {
  auto info = parse_remote_error(response.body);
  std::string message = what + ": HTTP " + std::to_string(response.status);
  if (!info.code.empty()) message += " " + info.code;
  if (!info.message.empty()) message += ": " + info.message;
  Error error(errc_for(info.code, response.status), message);
  error.with_http_status(static_cast<int>(response.status));
  if (!info.code.empty()) error.with_remote_code(info.code);
  return error;
}

}  // namespace kiln::registry_detail

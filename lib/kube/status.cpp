#include "kube/status.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

namespace kiln::kube {

namespace {

std::string str(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

// Printable, short: bodies of proxies and load balancers may be HTML pages.
std::string snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) out += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : ' ';
  if (body.size() > 200) out += "...";
  return out;
}

}  // namespace

Errc errc_for(std::string_view reason, long http_status) {
  if (reason == "NotFound") return Errc::not_found;
  if (reason == "AlreadyExists" || reason == "Conflict" || reason == "Gone" || reason == "Expired") return Errc::conflict;
  if (reason == "Invalid" || reason == "BadRequest") return Errc::invalid_argument;
  if (reason == "Unauthorized") return Errc::unauthorized;
  if (reason == "Forbidden") return Errc::forbidden;
  if (reason == "TooManyRequests" || reason == "ServiceUnavailable") return Errc::unavailable;
  if (reason == "Timeout" || reason == "ServerTimeout") return Errc::timeout;
  if (reason == "MethodNotAllowed" || reason == "NotAcceptable" || reason == "UnsupportedMediaType") return Errc::unsupported;
  if (reason == "RequestEntityTooLarge") return Errc::too_large;
  if (reason == "InternalError") return Errc::server;
  switch (http_status) {
    case 400: case 422: return Errc::invalid_argument;
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 409: case 410: return Errc::conflict;
    case 405: case 406: case 415: return Errc::unsupported;
    case 413: return Errc::too_large;
    case 429: case 503: return Errc::unavailable;
    case 504: return Errc::timeout;
    default: break;
  }
  if (http_status >= 500) return Errc::server;
  return Errc::protocol;
}

Error status_object_error(const boost::json::object& status, long fallback_http_status, std::string_view what) {
  auto reason = str(status, "reason");
  auto message = str(status, "message");
  long code = fallback_http_status;
  if (auto it = status.find("code"); it != status.end() && it->value().is_int64()) code = static_cast<long>(it->value().get_int64());
  if (message.empty()) message = reason.empty() ? fmt::format("HTTP {}", code) : reason;
  std::string causes;
  if (auto d = status.find("details"); d != status.end() && d->value().is_object()) {
    const auto& details = d->value().get_object();
    if (auto c = details.find("causes"); c != details.end() && c->value().is_array()) {
      for (const auto& cause : c->value().get_array()) {
        if (!cause.is_object()) continue;
        const auto& co = cause.get_object();
        auto field = str(co, "field");
        auto cmsg = str(co, "message");
        auto creason = str(co, "reason");
        std::string item = field.empty() ? cmsg : fmt::format("{}: {}", field, cmsg);
        if (item.empty() || message.find(item) != std::string::npos) continue;  // already in the message
        if (!creason.empty()) item += fmt::format(" ({})", creason);
        causes += (causes.empty() ? "" : "; ") + item;
      }
    }
  }
  std::string text = what.empty() ? message : fmt::format("{}: {}", what, message);
  if (!causes.empty()) text += fmt::format(" [causes: {}]", causes);
  Error error(errc_for(reason, code), text);
  error.with_http_status(static_cast<int>(code)).with_remote_code(reason);
  return error;
}

Error status_error(long http_status, std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (!ec && value.is_object() && str(value.get_object(), "kind") == "Status")
    return status_object_error(value.get_object(), http_status, what);
  std::string text = body.empty() ? fmt::format("{}: HTTP {}", what, http_status)
                                  : fmt::format("{}: HTTP {}: {}", what, http_status, snippet(body));
  Error error(errc_for({}, http_status), text);
  error.with_http_status(static_cast<int>(http_status));
  return error;
}

}  // namespace kiln::kube

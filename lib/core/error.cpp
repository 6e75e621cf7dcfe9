#include "kiln/error.hpp"
#include "kiln/cancel.hpp"

namespace kiln {

const char* errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::unauthorized: return "unauthorized";
    case Errc::forbidden: return "forbidden";
    case Errc::conflict: return "conflict";
    case Errc::unsupported: return "unsupported";
    case Errc::digest_mismatch: return "digest_mismatch";
    case Errc::io: return "io";
    case Errc::network: return "network";
    case Errc::protocol: return "protocol";
    case Errc::cancelled: return "cancelled";
    case Errc::timeout: return "timeout";
    case Errc::too_large: return "too_large";
    case Errc::server: return "server";
    case Errc::unavailable: return "unavailable";
    case Errc::build_failed: return "build_failed";
    case Errc::out_of_memory: return "out_of_memory";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

void CancelToken::check() const {
  if (cancelled()) throw Error(Errc::cancelled, "operation cancelled");
}

}  // namespace kiln

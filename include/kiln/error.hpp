// kiln::Error: the one exception type the C++ API throws. Its code is the
// same number the C API returns (KILN_E* in kiln.h), so the boundary maps one
// to the other without a table.
#pragma once

#include <stdexcept>
#include <string>

namespace kiln {

// Values are part of the C ABI: never renumber, only append.
enum class Errc : int {
  ok = 0,
  invalid_argument = -1,   // bad input from the caller (reference, option, document)
  not_found = -2,          // manifest/blob/repository/object does not exist
  unauthorized = -3,       // no or wrong credentials
  forbidden = -4,          // credentials valid, operation denied
  conflict = -5,           // already exists / version conflict
  unsupported = -6,        // the server cannot do this (deletes disabled, no API)
  digest_mismatch = -7,    // content did not match its digest
  io = -8,                 // local file system error
  network = -9,            // connection, TLS, DNS, timeout
  protocol = -10,          // the server answered something the protocol forbids
  cancelled = -11,         // a kiln_cancel token was triggered
  timeout = -12,           // a deadline passed
  too_large = -13,         // a response or input exceeded a cap
  server = -14,            // the server failed (5xx after retries)
  unavailable = -15,       // a service is not ready / read-only
  build_failed = -16,      // the builder ran and the build failed
  out_of_memory = -17,     // builder OOMKilled
  internal = -99,          // a kiln bug; please report
};

const char* errc_name(Errc code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(Errc code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}

  Errc code() const noexcept { return code_; }
  // HTTP status of the response that caused the error, 0 when none.
  int http_status() const noexcept { return http_status_; }
  // Registry error code ("MANIFEST_UNKNOWN") or Kubernetes Status reason ("NotFound").
  const std::string& remote_code() const noexcept { return remote_code_; }

  Error& with_http_status(int status) & { http_status_ = status; return *this; }
  Error&& with_http_status(int status) && { http_status_ = status; return std::move(*this); }
  Error& with_remote_code(std::string code) & { remote_code_ = std::move(code); return *this; }
  Error&& with_remote_code(std::string code) && { remote_code_ = std::move(code); return std::move(*this); }

 private:
  Errc code_;
  int http_status_ = 0;
  std::string remote_code_;
};

}  // namespace kiln

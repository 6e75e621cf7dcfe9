// Distribution API error bodies ({"errors":[{code,message,detail}]}) and
// HTTP statuses mapped to kiln::Error.
#pragma once

#include <string>

#include "http/client.hpp"
#include "kiln/error.hpp"

namespace kiln::registry_detail {

struct RemoteErrorInfo {
  std::string code;     // first error's code, e.g. "MANIFEST_UNKNOWN"
  std::string message;  // first error's message (+ detail, shortened)
};

// Never throws; empty fields when the body is not a Distribution error.
RemoteErrorInfo parse_remote_error(const std::string& body);

Errc errc_for(const std::string& remote_code, long http_status);

// `what` says what was attempted ("GET manifest web:v1 from registry h:5000").
Error response_error(const http::Response& response, const std::string& what);

}  // namespace kiln::registry_detail

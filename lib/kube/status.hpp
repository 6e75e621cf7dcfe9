// Kubernetes Status objects -> kiln::Error.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include "kiln/error.hpp"

namespace kiln::kube {

// The error for a non-2xx answer. `what` names the request ("GET
// /api/v1/namespaces/x/pods/y") and prefixes the message. A body that is a
// Status gives code, message, reason (remote_code) and, for Invalid, every
// field cause; any other body is quoted (shortened, printable characters only).
Error status_error(long http_status, std::string_view body, std::string_view what);

// The same for a Status object met inside a stream (watch ERROR event, exec
// status channel).
Error status_object_error(const boost::json::object& status, long fallback_http_status, std::string_view what);

// The Errc for a Status reason, or for an HTTP status when the reason is unknown.
Errc errc_for(std::string_view reason, long http_status);

}  // namespace kiln::kube

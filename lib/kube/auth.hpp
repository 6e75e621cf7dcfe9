// Credentials for requests to the API server: static or file tokens (re-read
// when the file changes), basic auth, client certificates and exec
// credential plugins (cached until expirationTimestamp, re-run after a 401).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "kiln/kube.hpp"

namespace kiln::kube {

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expires;
};

// Parses a plugin's stdout. `command` names it in errors. Throws
// Error(unauthorized) naming the problem.
ExecCredential parse_exec_credential(std::string_view json, const std::string& expected_api_version,
                                     const std::string& command);

// The KUBERNETES_EXEC_INFO value handed to the plugin.
std::string exec_info_json(const ExecPlugin& plugin, const Config& config, bool interactive);

// RFC 3339 ("2024-05-01T10:00:00Z", "...+02:00", fractions); nullopt if not one.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

struct RequestCredentials {
  std::string authorization;  // header value or ""
  std::string client_cert_pem;  // from an exec plugin
  std::string client_key_pem;
};

class Authenticator {
 public:
  Authenticator(const Config& config, std::chrono::milliseconds plugin_timeout);

  RequestCredentials current(const CancelToken& cancel);
  // After a 401: forget cached plugin credentials and file tokens. True when
  // a retry may succeed (something could be refreshed).
  bool invalidate();

  int plugin_runs() const;  // for tests and events

 private:
  ExecCredential run_plugin(const CancelToken& cancel);
  std::string file_token();

  const Config config_;
  std::chrono::milliseconds plugin_timeout_;
  mutable std::mutex mutex_;
  std::optional<ExecCredential> cached_;
  int plugin_runs_ = 0;
  std::string file_token_;
  std::chrono::steady_clock::time_point file_read_at_{};
  std::filesystem::file_time_type file_mtime_{};
};

}  // namespace kiln::kube

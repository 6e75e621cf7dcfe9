// docker credential helpers: `docker-credential-<name> get`, server URL on
// stdin, `{"ServerURL","Username","Secret"}` on stdout.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "kiln/auth.hpp"

namespace kiln::auth {

// nullopt when the helper says it has no credentials for `server_url`.
// Throws Error(invalid_argument) for a bad helper name, Error(unavailable)
// when the helper is missing, fails, times out or prints malformed output
// (the message names the helper, never the secret).
std::optional<Credential> run_credential_helper(const std::string& helper, const std::string& server_url,
                                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Parses a helper's `get` output (exposed for the fuzz target and tests).
Credential parse_helper_output(const std::string& helper, const std::string& output);

}  // namespace kiln::auth

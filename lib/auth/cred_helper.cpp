#include "auth/cred_helper.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "core/process.hpp"
#include "kiln/error.hpp"

namespace kiln::auth {
namespace {

constexpr std::size_t kMaxOutput = 1 << 20;

bool valid_helper_name(const std::string& name) {
  if (name.empty() || name.size() > 100) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

std::string first_line(const std::string& s) {
  auto end = s.find('\n');
  std::string line = s.substr(0, std::min<std::size_t>(end == std::string::npos ? s.size() : end, 200));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace

Credential parse_helper_output(const std::string& helper, const std::string& output) {
  std::string what = "credential helper docker-credential-" + helper;
  boost::system::error_code ec;
  auto value = boost::json::parse(output, ec);
  if (ec || !value.is_object()) {
    throw Error(Errc::unavailable, what + " printed something that is not a JSON object");
  }
  const auto& obj = value.as_object();
  auto field = [&](const char* name) -> std::string {
    auto* v = obj.if_contains(name);
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_string()) throw Error(Errc::unavailable, what + ": field '" + name + "' is not a string");
    return std::string(v->as_string());
  };
  Credential c;
  std::string user = field("Username");
  std::string secret = field("Secret");
  if (user == "<token>") {
    c.identity_token = secret;
  } else {
    c.username = user;
    c.password = secret;
  }
  return c;
}

std::optional<Credential> run_credential_helper(const std::string& helper, const std::string& server_url,
                                                std::chrono::milliseconds timeout) {
  if (!valid_helper_name(helper)) {
    throw Error(Errc::invalid_argument, "invalid credential helper name '" + helper +
                                            "' (letters, digits, '-', '_' and '.' only)");
  }
  std::string program = "docker-credential-" + helper;
  core::ProcessOptions options;
  options.stdin_data = server_url;
  options.max_output = kMaxOutput;
  options.timeout = timeout;
  core::ProcessResult result;
  try {
    result = core::run_process(program, {"get"}, options);
  } catch (const Error& e) {
    switch (e.code()) {
      case Errc::not_found:
        throw Error(Errc::unavailable, "cannot run " + program +
                                           " (configured in docker config): not found in PATH; install it or remove "
                                           "it from credsStore/credHelpers");
      case Errc::too_large: throw Error(Errc::unavailable, program + " printed more than 1 MiB");
      case Errc::timeout:
        throw Error(Errc::timeout, program + " get did not finish within " + std::to_string(timeout.count()) + " ms");
      default: throw;
    }
  }
  // Helpers print their errors on stdout (stderr is only a fallback).
  if (result.exit_code != 0) {
    if (result.out.find("credentials not found") != std::string::npos) return std::nullopt;
    const std::string& said = result.out.empty() ? result.err : result.out;
    throw Error(Errc::unavailable, program + " get failed" +
                                       (result.exit_code < 128 ? " with exit code " + std::to_string(result.exit_code)
                                                               : std::string(" (killed by a signal)")) +
                                       (said.empty() ? std::string() : ": " + first_line(said)));
  }
  Credential c = parse_helper_output(helper, result.out);
  if (c.empty()) return std::nullopt;
  return c;
}

}  // namespace kiln::auth

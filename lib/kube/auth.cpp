#include "kube/auth.hpp"

#include <ctime>
#include <fstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/process.hpp"

namespace kiln::kube {

namespace {

constexpr std::size_t kMaxPluginOutput = 1u << 20;
// Credentials that expire within this margin are refreshed before use, so a
// request never leaves with a token that dies in flight.
constexpr auto kExpiryMargin = std::chrono::seconds(10);

std::string str(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

// The last lines of a plugin's stderr: enough to explain a failure.
std::string tail(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() > 500) text = text.substr(text.size() - 500);
  std::string out;
  for (char c : text) out += (static_cast<unsigned char>(c) >= 0x20 || c == '\n') ? c : ' ';
  return out;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > t.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int year, month, day, hour, minute, second;
  if (t.size() < 20 || !digits(0, 4, year) || t[4] != '-' || !digits(5, 2, month) || t[7] != '-' ||
      !digits(8, 2, day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2, hour) || t[13] != ':' ||
      !digits(14, 2, minute) || t[16] != ':' || !digits(17, 2, second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  // system_clock counts nanoseconds in 64 bits (years 1678..2261).
  if (year < 1700 || year > 2200) return std::nullopt;
  std::size_t pos = 19;
  long long nanos = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (n < 9) nanos = nanos * 10 + (t[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 9; ++i) nanos *= 10;
  }
  int offset = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' || !digits(pos + 4, 2, om)) return std::nullopt;
    offset = (oh * 60 + om) * 60 * (t[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t secs = timegm(&tm) - offset;
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs)) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanos));
}

ExecCredential parse_exec_credential(std::string_view json, const std::string& expected_api_version,
                                     const std::string& command) {
  auto fail = [&](const std::string& what) {
    return Error(Errc::unauthorized, fmt::format("exec credential plugin \"{}\": {}", command, what));
  };
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) throw fail("its output is not a JSON ExecCredential object");
  const auto& o = value.get_object();
  if (str(o, "kind") != "ExecCredential") throw fail(fmt::format("its output has kind \"{}\", not ExecCredential", str(o, "kind")));
  if (str(o, "apiVersion") != expected_api_version)
    throw fail(fmt::format("it answered apiVersion \"{}\" but the kubeconfig asks for \"{}\"", str(o, "apiVersion"),
                           expected_api_version));
  auto status_it = o.find("status");
  if (status_it == o.end() || !status_it->value().is_object()) throw fail("its ExecCredential has no status");
  const auto& status = status_it->value().get_object();
  ExecCredential cred;
  cred.token = str(status, "token");
  cred.client_cert_pem = str(status, "clientCertificateData");
  cred.client_key_pem = str(status, "clientKeyData");
  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty())
    throw fail("its status has only one of clientCertificateData and clientKeyData; both are needed");
  if (cred.token.empty() && cred.client_cert_pem.empty())
    throw fail("its status has neither a token nor clientCertificateData/clientKeyData");
  if (auto e = status.find("expirationTimestamp"); e != status.end() && !e->value().is_null()) {
    auto when = e->value().is_string() ? parse_rfc3339(std::string(e->value().get_string())) : std::nullopt;
    if (!when) throw fail("status.expirationTimestamp is not an RFC 3339 time");
    cred.expires = when;
  }
  return cred;
}

std::string exec_info_json(const ExecPlugin& plugin, const Config& config, bool interactive) {
  boost::json::object spec{{"interactive", interactive}};
  if (plugin.provide_cluster_info) {
    boost::json::object cluster{{"server", config.server}};
    if (!config.tls_server_name.empty()) cluster["tls-server-name"] = config.tls_server_name;
    if (config.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    std::string ca = config.ca_data;
    if (ca.empty() && !config.ca_file.empty()) {
      std::ifstream in(config.ca_file, std::ios::binary);
      ca.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (!ca.empty()) cluster["certificate-authority-data"] = core::base64_encode(ca);
    if (!config.proxy_url.empty()) cluster["proxy-url"] = config.proxy_url;
    if (!plugin.cluster_config_json.empty()) {
      boost::system::error_code ec;
      auto ext = boost::json::parse(plugin.cluster_config_json, ec);
      if (!ec) cluster["config"] = ext;
    }
    spec["cluster"] = std::move(cluster);
  }
  boost::json::object info{{"apiVersion", plugin.api_version}, {"kind", "ExecCredential"}, {"spec", std::move(spec)}};
  return boost::json::serialize(info);
}

Authenticator::Authenticator(const Config& config, std::chrono::milliseconds plugin_timeout)
    : config_(config), plugin_timeout_(plugin_timeout) {}

ExecCredential Authenticator::run_plugin(const CancelToken& cancel) {
  const auto& plugin = *config_.exec;
  if (plugin.interactive_mode == InteractiveMode::always)
    throw Error(Errc::unauthorized,
                fmt::format("exec credential plugin \"{}\" needs an interactive terminal (interactiveMode: Always), "
                            "which a library cannot offer; log in with the plugin first or use another user in {}",
                            plugin.command, config_.origin));
  auto env = plugin.env;
  env.emplace_back("KUBERNETES_EXEC_INFO", exec_info_json(plugin, config_, false));
  core::ProcessResult result;
  try {
    core::ProcessOptions options;
    options.extra_env = std::move(env);
    options.max_output = kMaxPluginOutput;
    options.timeout = plugin_timeout_;
    options.cancel = cancel;
    result = core::run_process(plugin.command, plugin.args, options);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) {
      throw Error(Errc::unauthorized,
                  fmt::format("exec credential plugin \"{}\" (user {} in {}) cannot be started: it is not installed or "
                              "not in PATH{}{}",
                              plugin.command, config_.user, config_.origin, plugin.install_hint.empty() ? "" : ". ",
                              plugin.install_hint));
    }
    throw;
  }
  ++plugin_runs_;
  if (result.exit_code != 0) {
    auto err = tail(result.err);
    throw Error(Errc::unauthorized, fmt::format("exec credential plugin \"{}\" failed with exit status {}{}{}",
                                                plugin.command, result.exit_code, err.empty() ? "" : ": ", err));
  }
  return parse_exec_credential(result.out, plugin.api_version, plugin.command);
}

std::string Authenticator::file_token() {
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(config_.token_file, ec);
  auto now = std::chrono::steady_clock::now();
  // Re-read when the file changed (kubelet rotates projected tokens by
  // replacing the file) and at least once a minute regardless.
  if (file_token_.empty() || ec || mtime != file_mtime_ || now - file_read_at_ > std::chrono::minutes(1)) {
    std::ifstream in(config_.token_file, std::ios::binary);
    if (!in) throw Error(Errc::unauthorized, fmt::format("token file {} ({}) cannot be read", config_.token_file, config_.origin));
    std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) throw Error(Errc::unauthorized, fmt::format("token file {} ({}) is empty", config_.token_file, config_.origin));
    file_token_ = std::move(token);
    file_mtime_ = mtime;
    file_read_at_ = now;
  }
  return file_token_;
}

RequestCredentials Authenticator::current(const CancelToken& cancel) {
  std::lock_guard lock(mutex_);
  RequestCredentials creds;
  if (config_.exec) {
    auto now = std::chrono::system_clock::now();
    if (!cached_ || (cached_->expires && *cached_->expires - kExpiryMargin <= now)) cached_ = run_plugin(cancel);
    if (!cached_->token.empty()) creds.authorization = "Bearer " + cached_->token;
    creds.client_cert_pem = cached_->client_cert_pem;
    creds.client_key_pem = cached_->client_key_pem;
    if (!creds.authorization.empty() || !creds.client_cert_pem.empty()) return creds;
  }
  if (!config_.token.empty()) {
    creds.authorization = "Bearer " + config_.token;
  } else if (!config_.token_file.empty()) {
    creds.authorization = "Bearer " + file_token();
  } else if (!config_.username.empty()) {
    creds.authorization = "Basic " + core::base64_encode(config_.username + ":" + config_.password);
  }
  return creds;
}

bool Authenticator::invalidate() {
  std::lock_guard lock(mutex_);
  bool refreshable = false;
  if (config_.exec) {
    cached_.reset();
    refreshable = true;
  }
  if (!config_.token_file.empty()) {
    file_token_.clear();
    refreshable = true;
  }
  return refreshable;
}

int Authenticator::plugin_runs() const {
  std::lock_guard lock(mutex_);
  return plugin_runs_;
}

}  // namespace kiln::kube

#include "auth/cred_helper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>

#include "kiln/error.hpp"

extern char** environ;

namespace kiln::auth {
namespace {

constexpr std::size_t kMaxOutput = 1 << 20;

struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

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
  int in_pipe[2];
  int out_pipe[2];
  // A socket, not a pipe, for stdin: send(MSG_NOSIGNAL) cannot raise SIGPIPE
  // in the host process when the helper exits without reading.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pipe) != 0) {
    throw Error(Errc::io, "socketpair: " + std::string(std::strerror(errno)));
  }
  Fd in_r{in_pipe[0]}, in_w{in_pipe[1]};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw Error(Errc::io, "pipe: " + std::string(std::strerror(errno)));
  Fd out_r{out_pipe[0]}, out_w{out_pipe[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  // Helpers print their errors on stdout; stderr is not needed.
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  char arg1[] = "get";
  std::string argv0 = program;
  char* argv[] = {argv0.data(), arg1, nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw Error(Errc::unavailable, "cannot run " + program + " (configured in docker config): " + std::strerror(rc) +
                                       "; install it or remove it from credsStore/credHelpers");
  }
  in_r.reset();
  out_w.reset();

  // The server URL is a few bytes: one write never fills the pipe.
  if (::send(in_w.fd, server_url.data(), server_url.size(), MSG_NOSIGNAL) < 0) {
    // The helper exited early; its exit status tells why.
  }
  in_w.reset();

  std::string output;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out_r.fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t got = ::read(out_r.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output.append(buffer, static_cast<std::size_t>(got));
    if (output.size() > kMaxOutput) {
      timed_out = false;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      throw Error(Errc::unavailable, program + " printed more than 1 MiB");
    }
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw Error(Errc::timeout, program + " get did not finish within " + std::to_string(timeout.count()) + " ms");
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (output.find("credentials not found") != std::string::npos) return std::nullopt;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      throw Error(Errc::unavailable, "cannot run " + program + ": not found in PATH");
    }
    throw Error(Errc::unavailable, program + " get failed" +
                                       (WIFEXITED(status) ? " with exit code " + std::to_string(WEXITSTATUS(status))
                                                          : std::string(" (killed by a signal)")) +
                                       (output.empty() ? std::string() : ": " + first_line(output)));
  }
  Credential c = parse_helper_output(helper, output);
  if (c.empty()) return std::nullopt;
  return c;
}

}  // namespace kiln::auth

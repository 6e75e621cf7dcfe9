#include "core/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kiln/error.hpp"

extern char** environ;

namespace kiln::core {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

std::vector<std::string> environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    bool overridden = false;
    for (const auto& [name, value] : extra)
      if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=')
        overridden = true;
    if (!overridden) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

ProcessResult run_process(const std::string& command, const std::vector<std::string>& args,
                          const ProcessOptions& options) {
  auto env_strings = environment(options.extra_env);
  auto envp = pointers(env_strings);
  std::vector<std::string> argv_strings{command};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  auto argv = pointers(argv_strings);

  // stdin is a socket, not a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE in
  // the host process when the child exits without reading.
  int in_pair[2] = {-1, -1};
  bool feed_stdin = !options.stdin_data.empty();
  if (feed_stdin && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
    throw Error(Errc::io, fmt::format("socketpair: {}", std::strerror(errno)));
  Fd in_child{in_pair[0]}, in_write{in_pair[1]};
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw Error(Errc::io, fmt::format("pipe: {}", std::strerror(errno)));
  Fd out_read{out_pipe[0]}, out_write{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw Error(Errc::io, fmt::format("pipe: {}", std::strerror(errno)));
  Fd err_read{err_pipe[0]}, err_write{err_pipe[1]};

  SpawnActions fa;
  if (feed_stdin) posix_spawn_file_actions_adddup2(&fa.actions, in_child.fd, 0);
  else posix_spawn_file_actions_addopen(&fa.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa.actions, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&fa.actions, err_write.fd, 2);
  // Descriptors the host opened without O_CLOEXEC must not leak into helpers.
  posix_spawn_file_actions_addclosefrom_np(&fa.actions, 3);

  pid_t pid = -1;
  int rc = command.find('/') == std::string::npos
               ? ::posix_spawnp(&pid, command.c_str(), &fa.actions, nullptr, argv.data(), envp.data())
               : ::posix_spawn(&pid, command.c_str(), &fa.actions, nullptr, argv.data(), envp.data());
  if (rc != 0) {
    throw Error(rc == ENOENT ? Errc::not_found : Errc::io,
                fmt::format("cannot run \"{}\": {}", command, std::strerror(rc)));
  }
  in_child.close();
  out_write.close();
  err_write.close();

  ProcessResult result;
  std::size_t stdin_sent = 0;
  if (!feed_stdin) in_write.close();
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  auto check_limits = [&] {
    if (options.cancel.cancelled()) {
      kill_and_reap(pid);
      throw Error(Errc::cancelled, fmt::format("\"{}\" was cancelled", command));
    }
    if (options.timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) {
      kill_and_reap(pid);
      throw Error(Errc::timeout, fmt::format("\"{}\" did not finish within {} ms", command, options.timeout.count()));
    }
  };
  while (out_read.fd >= 0 || err_read.fd >= 0) {
    check_limits();
    pollfd fds[3] = {{out_read.fd, POLLIN, 0}, {err_read.fd, POLLIN, 0}, {in_write.fd, POLLOUT, 0}};
    int n = ::poll(fds, 3, 100);
    if (n < 0 && errno != EINTR) {
      kill_and_reap(pid);
      throw Error(Errc::io, fmt::format("poll: {}", std::strerror(errno)));
    }
    if (n <= 0) continue;
    if (in_write.fd >= 0 && (fds[2].revents & (POLLOUT | POLLHUP | POLLERR))) {
      ssize_t sent = ::send(in_write.fd, options.stdin_data.data() + stdin_sent,
                            options.stdin_data.size() - stdin_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      // A child that exits without reading stdin is judged by its exit status.
      if (sent < 0 && errno != EAGAIN && errno != EINTR) in_write.close();
      if (sent > 0) stdin_sent += static_cast<std::size_t>(sent);
      if (stdin_sent == options.stdin_data.size()) in_write.close();
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[8192];
      ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        (i == 0 ? out_read : err_read).close();
        continue;
      }
      auto& into = i == 0 ? result.out : result.err;
      if (into.size() + static_cast<std::size_t>(got) > options.max_output) {
        kill_and_reap(pid);
        throw Error(Errc::too_large, fmt::format("\"{}\" wrote more than {} bytes", command, options.max_output));
      }
      into.append(buffer, static_cast<std::size_t>(got));
    }
  }
  in_write.close();
  // A child may close its output and keep running: wait with the same limits.
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw Error(Errc::io, fmt::format("waitpid: {}", std::strerror(errno)));
    check_limits();
    ::usleep(5000);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return result;
}

}  // namespace kiln::core

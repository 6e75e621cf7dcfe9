#include "kube/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kiln/error.hpp"

extern char** environ;

namespace kiln::kube {

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
};

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

ProcessResult run_process(const std::string& command, const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& extra_env, std::size_t max_output,
                          std::chrono::milliseconds timeout, const CancelToken& cancel) {
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    bool overridden = false;
    for (const auto& [name, value] : extra_env)
      if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=') overridden = true;
    if (!overridden) env_strings.emplace_back(entry);
  }
  for (const auto& [name, value] : extra_env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings{command};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw Error(Errc::io, fmt::format("pipe: {}", std::strerror(errno)));
  Fd out_read{out_pipe[0]}, out_write{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw Error(Errc::io, fmt::format("pipe: {}", std::strerror(errno)));
  Fd err_read{err_pipe[0]}, err_write{err_pipe[1]};

  SpawnActions fa;
  posix_spawn_file_actions_addopen(&fa.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa.actions, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&fa.actions, err_write.fd, 2);
  // Descriptors the host opened without O_CLOEXEC must not leak into plugins.
  posix_spawn_file_actions_addclosefrom_np(&fa.actions, 3);

  pid_t pid = -1;
  int rc = command.find('/') == std::string::npos
               ? ::posix_spawnp(&pid, command.c_str(), &fa.actions, nullptr, argv.data(), envp.data())
               : ::posix_spawn(&pid, command.c_str(), &fa.actions, nullptr, argv.data(), envp.data());
  if (rc != 0) {
    throw Error(rc == ENOENT ? Errc::not_found : Errc::io,
                fmt::format("cannot run \"{}\": {}", command, std::strerror(rc)));
  }
  out_write.close();
  err_write.close();

  ProcessResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_read.fd >= 0 || err_read.fd >= 0) {
    if (cancel.cancelled()) {
      kill_and_reap(pid);
      throw Error(Errc::cancelled, fmt::format("\"{}\" was cancelled", command));
    }
    if (timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) {
      kill_and_reap(pid);
      throw Error(Errc::timeout, fmt::format("\"{}\" did not finish within {} ms", command, timeout.count()));
    }
    pollfd fds[2] = {{out_read.fd, POLLIN, 0}, {err_read.fd, POLLIN, 0}};
    int n = ::poll(fds, 2, 100);
    if (n < 0 && errno != EINTR) {
      kill_and_reap(pid);
      throw Error(Errc::io, fmt::format("poll: {}", std::strerror(errno)));
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
      if (into.size() + static_cast<std::size_t>(got) > max_output) {
        kill_and_reap(pid);
        throw Error(Errc::too_large, fmt::format("\"{}\" wrote more than {} bytes", command, max_output));
      }
      into.append(buffer, static_cast<std::size_t>(got));
    }
  }
  // A child may close its output and keep running: wait with the same limits.
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw Error(Errc::io, fmt::format("waitpid: {}", std::strerror(errno)));
    if (cancel.cancelled() || (timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline)) {
      kill_and_reap(pid);
      if (cancel.cancelled()) throw Error(Errc::cancelled, fmt::format("\"{}\" was cancelled", command));
      throw Error(Errc::timeout, fmt::format("\"{}\" did not finish within {} ms", command, timeout.count()));
    }
    ::usleep(10000);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return result;
}

}  // namespace kiln::kube

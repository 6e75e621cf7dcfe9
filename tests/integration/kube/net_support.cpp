#include "net_support.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "http/url.hpp"
#include "support.hpp"

extern char** environ;

namespace kubetest {

namespace fs = std::filesystem;

namespace {

// One directory per run for logs and kubeconfig copies, removed at exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / unique("kiln-net-test");
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const fs::path& temp_dir() {
  static TempDir dir;
  return dir.path;
}

}  // namespace

ForwardProxy::ForwardProxy(const std::string& auth, const std::string& tls_cert, const std::string& tls_key) {
  log_path_ = temp_dir() / (unique("proxy") + ".log");
  std::string script = std::string(KILN_TESTSERVERS_DIR) + "/connect_proxy.py";
  std::vector<std::string> args = {"/usr/bin/python3", script, "--port", "0", "--log", log_path_.string(),
                                   "--exit-on-stdin-eof"};
  if (!auth.empty()) {
    args.push_back("--auth");
    args.push_back(auth);
  }
  if (!tls_cert.empty()) {
    args.insert(args.end(), {"--tls-cert", tls_cert, "--tls-key", tls_key});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int in[2], out[2];
  REQUIRE(pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  stdin_fd_ = in[1];
  REQUIRE_MESSAGE(rc == 0, "cannot start " << script);

  // "LISTENING <port>\n"
  std::string line;
  pollfd fd{out[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos) {
    if (::poll(&fd, 1, 20000) <= 0) break;
    char buffer[256];
    auto n = ::read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    line.append(buffer, static_cast<std::size_t>(n));
  }
  close(out[0]);
  if (line.rfind("LISTENING ", 0) == 0) port_ = std::atoi(line.c_str() + 10);
  REQUIRE_MESSAGE(port_ > 0, "connect_proxy.py did not start: \"" << line << "\"");
}

ForwardProxy::~ForwardProxy() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

std::vector<boost::json::object> ForwardProxy::log() const {
  std::vector<boost::json::object> out;
  std::ifstream in(log_path_);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
  }
  return out;
}

int closed_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(s);
  return ntohs(addr.sin_port);
}

std::string cluster_server() { return config().server; }
int cluster_port() { return kiln::http::parse_url(cluster_server()).port; }

fs::path kubeconfig_with(const ClusterEdit& edit) {
  auto source = env("KUBECONFIG");
  YAML::Node root = YAML::LoadFile(source);
  std::string context_name = root["current-context"].as<std::string>();
  std::string cluster_name;
  for (const auto& c : root["contexts"])
    if (c["name"].as<std::string>() == context_name) cluster_name = c["context"]["cluster"].as<std::string>();
  REQUIRE_MESSAGE(!cluster_name.empty(), source << " has no current context");
  bool found = false;
  for (auto c : root["clusters"]) {
    if (c["name"].as<std::string>() != cluster_name) continue;
    found = true;
    YAML::Node cluster = c["cluster"];
    if (!edit.server.empty()) cluster["server"] = edit.server;
    if (!edit.proxy_url.empty()) cluster["proxy-url"] = edit.proxy_url;
    if (!edit.tls_server_name.empty()) cluster["tls-server-name"] = edit.tls_server_name;
  }
  REQUIRE(found);
  auto path = temp_dir() / (unique("kubeconfig") + ".yaml");
  YAML::Emitter emitter;
  emitter << root;
  std::ofstream(path) << emitter.c_str() << "\n";
  return path;
}

int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), p)) > 0) output.append(buffer.data(), n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace kubetest

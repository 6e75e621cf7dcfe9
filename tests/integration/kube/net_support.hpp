// Helpers of the proxy-url / tls-server-name tests: the forward proxy of
// tests/testservers/connect_proxy.py run as a child process, and kubeconfig
// files derived from the test cluster's.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace kubetest {

// connect_proxy.py on a free loopback port; stopped (and reaped) by the
// destructor. It also exits when this process dies (its stdin closes).
class ForwardProxy {
 public:
  // `auth` "user:password" that clients must present, "" for none. With a
  // certificate and key (PEM files) it is an HTTPS proxy.
  explicit ForwardProxy(const std::string& auth = {}, const std::string& tls_cert = {}, const std::string& tls_key = {});
  ~ForwardProxy();
  ForwardProxy(const ForwardProxy&) = delete;
  ForwardProxy& operator=(const ForwardProxy&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The tunnel requests recorded so far, one JSON object each (see the
  // script's docstring).
  std::vector<boost::json::object> log() const;

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
  std::filesystem::path log_path_;
};

// A loopback port nobody listens on (bound once, then closed).
int closed_port();

struct ClusterEdit {
  std::string server;           // "" keeps the test cluster's
  std::string proxy_url;        // "" for none
  std::string tls_server_name;  // "" for none
};

// Writes a copy of KUBECONFIG whose current cluster is changed as given and
// returns its path (in a directory removed at exit).
std::filesystem::path kubeconfig_with(const ClusterEdit& edit);

// "https://127.0.0.1:<port>" of the test cluster, and its port.
std::string cluster_server();
int cluster_port();

// Runs a command, returns its exit status; output (stdout + stderr) in `output`.
int run_command(const std::string& command, std::string& output);

}  // namespace kubetest

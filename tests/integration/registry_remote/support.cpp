#include "support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <doctest/doctest.h>
#include <fstream>
#include <random>
#include <sstream>

extern char** environ;

namespace nettest {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    const char* ci = std::getenv("CI");
    std::string how = std::string(name) + " is not set: start the test services first with "
                                          "eval \"$(tests/services/up)\"";
    if (ci != nullptr && std::string(ci) == "true") FAIL("CI=true and " << how);
    FAIL("service missing (this test does not pass without it): " << how);
  }
  return v;
}

std::string random_hex(std::size_t n) {
  static std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(hex[rng() % 16]);
  return s;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    auto v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

std::string unique_repo(const std::string& what) { return "kiln-net/" + what + "-" + random_hex(10); }

int run(const std::vector<std::string>& argv, std::string* out, bool merge_stderr) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  if (merge_stderr) {
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return -1;
  }
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) data.append(buf, static_cast<std::size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out) *out = data;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::optional<std::string> skopeo_raw(const std::string& host, const std::string& repo, const std::string& ref,
                                      const SkopeoAuth& auth) {
  std::vector<std::string> argv = {"skopeo", "inspect", "--raw"};
  if (auth.tls) {
    argv.push_back("--cert-dir");
    argv.push_back(env("KILN_TEST_CERT_DIR"));
  } else {
    argv.push_back("--tls-verify=false");
  }
  if (!auth.creds.empty()) {
    argv.push_back("--creds");
    argv.push_back(auth.creds);
  }
  std::string sep = ref.find(':') != std::string::npos ? "@" : ":";
  argv.push_back("docker://" + host + "/" + repo + sep + ref);
  std::string out;
  if (run(argv, &out, false) != 0) return std::nullopt;
  return out;
}

std::optional<std::string> storage_blob(const std::string& storage_root, const kiln::Digest& digest) {
  auto path = std::filesystem::path(storage_root) / "docker/registry/v2/blobs/sha256" / digest.hex().substr(0, 2) /
              digest.hex() / "data";
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t MemoryReader::read(char* buffer, std::size_t size) {
  std::size_t n = std::min(size, data_.size() - pos_);
  std::memcpy(buffer, data_.data() + pos_, n);
  pos_ += n;
  return n;
}

bool MemoryReader::seek(std::uint64_t offset) {
  if (!seekable_ && offset != pos_) return false;
  if (offset > data_.size()) return false;
  ++seeks;
  pos_ = static_cast<std::size_t>(offset);
  return true;
}

kiln::Manifest make_manifest(const std::string& config, const std::vector<std::string>& layers,
                             const char* media_type) {
  bool oci = std::string(media_type) == kiln::media_type::oci_manifest;
  std::string config_type = oci ? kiln::media_type::oci_config : kiln::media_type::docker_config;
  std::string layer_type = oci ? kiln::media_type::oci_layer_gzip : kiln::media_type::docker_layer_gzip;
  std::string json = std::string("{\"schemaVersion\":2,\"mediaType\":\"") + media_type +
                     "\",\"config\":{\"mediaType\":\"" + config_type + "\",\"digest\":\"" +
                     kiln::Digest::of(config).str() + "\",\"size\":" + std::to_string(config.size()) +
                     "},\"layers\":[";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (i) json += ",";
    json += "{\"mediaType\":\"" + layer_type + "\",\"digest\":\"" + kiln::Digest::of(layers[i]).str() +
            "\",\"size\":" + std::to_string(layers[i].size()) + "}";
  }
  json += "]}";
  return kiln::Manifest{media_type, json};
}

PushedImage push_small_image(kiln::Registry& registry, const std::string& repo, const std::string& tag,
                             unsigned seed) {
  PushedImage img;
  img.config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},"
               "\"seed\":" + std::to_string(seed) + "}";
  img.layer = random_bytes(3000 + seed, seed);
  for (const auto* blob : {&img.config, &img.layer}) {
    kiln::Descriptor d;
    d.digest = kiln::Digest::of(*blob);
    d.size = static_cast<std::int64_t>(blob->size());
    MemoryReader reader(*blob);
    registry.put_blob(repo, d, reader);
  }
  img.manifest = make_manifest(img.config, {img.layer});
  registry.put_manifest(repo, tag, img.manifest);
  return img;
}

TestServer::TestServer(const std::string& script, std::vector<std::string> args, int port_lines) {
  log_ = std::filesystem::temp_directory_path() / ("kiln-test-server-" + random_hex(12) + ".jsonl");
  std::vector<std::string> argv = {"/usr/bin/python3", std::string(KILN_TESTSERVERS_DIR) + "/" + script, "--log",
                                   log_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  int pipefd[2];
  REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  std::vector<char*> cargs;
  for (const auto& a : argv) cargs.push_back(const_cast<char*>(a.c_str()));
  cargs.push_back(nullptr);
  int rc = posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  REQUIRE_MESSAGE(rc == 0, "cannot start /usr/bin/python3 " << script);
  FILE* f = fdopen(pipefd[0], "r");
  char line[128];
  for (int i = 0; i < port_lines && std::fgets(line, sizeof line, f) != nullptr; ++i) {
    std::sscanf(line, "PORT %d", &port_);
    std::sscanf(line, "OTHER_PORT %d", &other_port_);
  }
  std::fclose(f);
  REQUIRE_MESSAGE(port_ > 0, script << " did not report its port");
}

TestServer::~TestServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove(log_, ec);
}

std::vector<std::string> TestServer::log_lines() const {
  std::vector<std::string> lines;
  std::ifstream in(log_);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

namespace {
std::vector<std::string> fake_args(const std::string& scenario, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--scenario", scenario};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}
}  // namespace

FakeRegistry::FakeRegistry(const std::string& scenario, const std::vector<std::string>& extra_args)
    : TestServer("fake_registry.py", fake_args(scenario, extra_args),
                 scenario == "elsewhere" || scenario == "pages" ? 2 : 1) {}

kiln::RegistryOptions plain_options() {
  kiln::RegistryOptions o;
  o.transport.ca_file = env("KILN_TEST_CA");
  return o;
}

}  // namespace nettest

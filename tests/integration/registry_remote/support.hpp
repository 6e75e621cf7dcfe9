// Shared helpers of the RemoteRegistry integration tests: environment of
// tests/services/up, independent checks (skopeo, storage), test servers.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/registry.hpp"

namespace nettest {

// The variable's value; FAILs the current test (with how to get it) when it
// is missing. Outside CI the failure message says the service is missing too:
// a missing service never makes a test pass.
std::string env(const char* name);

std::string random_hex(std::size_t n);
std::string random_bytes(std::size_t n, unsigned seed);
// A unique repository name: "kiln-net/<what>-<hex>".
std::string unique_repo(const std::string& what);

// Runs argv (no shell); returns exit code, stdout in `out` (stderr appended when merge).
int run(const std::vector<std::string>& argv, std::string* out = nullptr, bool merge_stderr = true);

// skopeo inspect --raw of docker://<host>/<repo>:<ref> with the flags a
// given registry needs (plain / CA / credentials).
struct SkopeoAuth {
  bool tls = false;
  std::string creds;  // "user:password"
};
std::optional<std::string> skopeo_raw(const std::string& host, const std::string& repo, const std::string& ref,
                                      const SkopeoAuth& auth = {});

// The registry's filesystem storage: bytes of a blob, or nullopt.
std::optional<std::string> storage_blob(const std::string& storage_root, const kiln::Digest& digest);

// A BlobReader over a string; seekable unless told otherwise.
class MemoryReader : public kiln::BlobReader {
 public:
  explicit MemoryReader(std::string data, bool seekable = true) : data_(std::move(data)), seekable_(seekable) {}
  std::size_t read(char* buffer, std::size_t size) override;
  bool seek(std::uint64_t offset) override;
  int seeks = 0;

 private:
  std::string data_;
  bool seekable_;
  std::size_t pos_ = 0;
};

// A small OCI image (config + one layer) pushed with kiln itself.
struct PushedImage {
  kiln::Manifest manifest;
  std::string config;
  std::string layer;
};
kiln::Manifest make_manifest(const std::string& config, const std::vector<std::string>& layers,
                             const char* media_type = kiln::media_type::oci_manifest);
PushedImage push_small_image(kiln::Registry& registry, const std::string& repo, const std::string& tag,
                             unsigned seed = 1);

// A tests/testservers/<script> in a child process; it prints `PORT <n>`
// (and `OTHER_PORT <n>` for a second listener on 127.0.0.2) and logs JSON lines.
class TestServer {
 public:
  TestServer(const std::string& script, std::vector<std::string> args, int port_lines);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int other_port() const { return other_port_; }
  // The request log, one JSON object per line.
  std::vector<std::string> log_lines() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int other_port_ = 0;
  std::filesystem::path log_;
};

// fake_registry.py --scenario <scenario> [extra_args...]
class FakeRegistry : public TestServer {
 public:
  explicit FakeRegistry(const std::string& scenario, const std::vector<std::string>& extra_args = {});
};

// Options for a registry from tests/services/up.
kiln::RegistryOptions plain_options();

}  // namespace nettest

// Bad input and failures from tests/testservers/fake_registry.py: wrong
// digests, credentials and other hosts, oversized token bodies, retries,
// resets with resume, cancellation, pagination.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"
#include "support.hpp"

using namespace nettest;

namespace {

std::vector<boost::json::object> parse_log(const TestServer& server) {
  std::vector<boost::json::object> out;
  for (const auto& line : server.log_lines()) out.push_back(boost::json::parse(line).as_object());
  return out;
}

std::string str(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

kiln::Errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    MESSAGE(std::string(e.what()));
    return e.code();
  }
  return kiln::Errc::ok;
}

std::size_t count_files(const std::filesystem::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) ++n;
  }
  return n;
}

struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("kiln-net-" + random_hex(12));
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("wrong manifest bytes are refused: against the digest asked for and against Docker-Content-Digest") {
  FakeRegistry server("bad-digests");
  auto registry = kiln::open_remote_registry(server.host(), {});
  CHECK(code_of([&] { registry->get_manifest("repo", "wrong-header"); }) == kiln::Errc::digest_mismatch);
  // By digest: the registry serves other (self-consistent) bytes.
  auto good = registry->get_manifest("repo", "bad-blob");
  CHECK(code_of([&] { registry->get_manifest("repo", good.digest().str()); }) == kiln::Errc::digest_mismatch);
}

TEST_CASE("wrong blob bytes are refused and nothing is written to the OCI layout") {
  FakeRegistry server("bad-digests");
  auto registry = kiln::open_remote_registry(server.host(), {});
  auto manifest = registry->get_manifest("repo", "bad-blob");
  auto refs = manifest.references();
  REQUIRE(refs.size() == 2);
  std::string sink;
  CHECK(code_of([&] { registry->get_blob("repo", refs[0], [&](const char* p, std::size_t n) { sink.append(p, n); }); }) ==
        kiln::Errc::digest_mismatch);

  TempDir dir;
  auto layout = kiln::open_oci_layout(dir.path, true);
  std::size_t files_before = count_files(dir.path / "blobs");
  CHECK(code_of([&] { kiln::copy_image(*registry, "repo", "bad-blob", *layout, "", "bad"); }) ==
        kiln::Errc::digest_mismatch);
  // The config with the wrong bytes is not stored, and no manifest is tagged.
  CHECK_FALSE(std::filesystem::exists(dir.path / "blobs" / "sha256" / refs[0].digest.hex()));
  CHECK_FALSE(std::filesystem::exists(dir.path / "blobs" / "sha256" / manifest.digest().hex()));
  CHECK_FALSE(layout->resolve("", "bad").has_value());
  CHECK(count_files(dir.path / "blobs") <= files_before + 1);  // at most the good layer
  // The same against a real registry as the target.
  std::string host = env("KILN_TEST_REGISTRY");
  auto target = kiln::open_remote_registry(host, plain_options());
  std::string repo = unique_repo("badcopy");
  CHECK(code_of([&] { kiln::copy_image(*registry, "repo", "bad-blob", *target, repo, "bad"); }) ==
        kiln::Errc::digest_mismatch);
  CHECK_FALSE(target->stat_blob(repo, refs[0].digest).has_value());
  CHECK_FALSE(target->resolve(repo, "bad").has_value());
  CHECK_FALSE(storage_blob(env("KILN_TEST_REGISTRY_STORAGE"), refs[0].digest).has_value());
}

TEST_CASE("credentials go to the token realm on another host, never the registry token; redirects and "
          "upload Locations to another host carry no Authorization") {
  FakeRegistry server("elsewhere");
  kiln::RegistryOptions options;
  options.credentials = kiln::static_credentials({{server.host(), kiln::Credential{"alice", "s3cret", ""}}});
  auto registry = kiln::open_remote_registry(server.host(), options);

  kiln::Descriptor layer;
  layer.digest = kiln::Digest::of(std::string(std::string("layer bytes that are right").size() * 10, 'x'));
  // The blob the storage host serves (see fake_registry.py GOOD_LAYER).
  std::string good;
  for (int i = 0; i < 10; ++i) good += "layer bytes that are right";
  layer.digest = kiln::Digest::of(good);
  layer.size = static_cast<std::int64_t>(good.size());
  std::string got;
  registry->get_blob("repo", layer, [&](const char* p, std::size_t n) { got.append(p, n); });
  CHECK(got == good);
  MemoryReader reader(good);
  registry->put_blob("repo", layer, reader);

  auto log = parse_log(server);
  int token_requests = 0, storage_requests = 0, upload_requests = 0, registry_bearer = 0;
  for (const auto& e : log) {
    std::string listen = str(e, "listen");
    std::string path = str(e, "path");
    std::string auth = str(e, "authorization");
    CAPTURE(path);
    if (listen == "127.0.0.2") {
      if (path.rfind("/token", 0) == 0) {
        ++token_requests;
        CHECK(auth == "basic");  // the realm: the user's credentials, legitimately
      } else {
        if (path.rfind("/storage/", 0) == 0) ++storage_requests;
        if (path.rfind("/upload/", 0) == 0) ++upload_requests;
        CHECK(auth.empty());  // another host: nothing
      }
    } else {
      CHECK(auth != "basic");  // the registry never needs the password itself
      if (auth == "bearer") ++registry_bearer;
    }
  }
  CHECK(token_requests >= 1);
  CHECK(storage_requests == 1);
  CHECK(upload_requests >= 1);  // the PUT into the foreign Location
  CHECK(registry_bearer >= 2);
}

TEST_CASE("an oversized token response is refused") {
  FakeRegistry server("big-token");
  auto registry = kiln::open_remote_registry(server.host(), {});
  CHECK(code_of([&] { registry->resolve("repo", "latest"); }) == kiln::Errc::too_large);
}

TEST_CASE("429 with Retry-After and 500 are retried, then the request succeeds") {
  std::string upstream = env("KILN_TEST_REGISTRY");
  auto direct = kiln::open_remote_registry(upstream, plain_options());
  std::string repo = unique_repo("retry");
  auto img = push_small_image(*direct, repo, "v1", 31);

  FakeRegistry server("proxy", {"--upstream", upstream, "--faults", "429:1,500:2"});
  auto registry = kiln::open_remote_registry(server.host(), {});
  // The first GET answers 429 (Retry-After: 1), the next two 500, then the upstream.
  auto m = registry->get_manifest(repo, "v1");
  CHECK(m.bytes == img.manifest.bytes);
  std::vector<std::string> faults;
  std::vector<double> times;
  for (const auto& e : parse_log(server)) {
    if (str(e, "path").find("/manifests/") != std::string::npos) {
      faults.push_back(str(e, "fault"));
      times.push_back(e.at("time").to_number<double>());
    }
  }
  CHECK(faults == std::vector<std::string>{"429", "500", "500", ""});
  // Retry-After: 1 was obeyed (a lower bound, not a performance figure).
  REQUIRE(times.size() == 4);
  CHECK(times[1] - times[0] >= 0.95);
}

TEST_CASE("a connection reset in the middle of a blob resumes with Range and verifies the whole blob") {
  std::string upstream = env("KILN_TEST_REGISTRY");
  auto direct = kiln::open_remote_registry(upstream, plain_options());
  std::string repo = unique_repo("reset-get");
  std::string data = random_bytes(3 * 1024 * 1024 + 3, 32);
  kiln::Descriptor d;
  d.digest = kiln::Digest::of(data);
  d.size = static_cast<std::int64_t>(data.size());
  MemoryReader reader(data);
  direct->put_blob(repo, d, reader);

  FakeRegistry server("proxy", {"--upstream", upstream, "--faults", "reset-blob"});
  auto registry = kiln::open_remote_registry(server.host(), {});
  std::string got;
  registry->get_blob(repo, d, [&](const char* p, std::size_t n) { got.append(p, n); });
  CHECK(got == data);
  std::vector<std::string> ranges;
  bool reset_seen = false;
  for (const auto& e : parse_log(server)) {
    if (str(e, "fault") == "reset-blob") reset_seen = true;
    if (!str(e, "range").empty()) ranges.push_back(str(e, "range"));
  }
  CHECK(reset_seen);
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].rfind("bytes=", 0) == 0);
  CHECK(ranges[0] != "bytes=0-");
}

TEST_CASE("an upload interrupted between chunks continues from the server's Range") {
  std::string upstream = env("KILN_TEST_REGISTRY");
  // The second PATCH is swallowed and the connection reset: the session is
  // intact at the end of the first chunk, which GET <Location> reports.
  FakeRegistry server("proxy", {"--upstream", upstream, "--faults", "drop-patch:2"});
  kiln::RegistryOptions options;
  options.chunk_size = 1024 * 1024;
  auto registry = kiln::open_remote_registry(server.host(), options);
  std::string repo = unique_repo("resume");
  std::string data = random_bytes(3 * 1024 * 1024 + 11, 36);
  kiln::Descriptor d;
  d.digest = kiln::Digest::of(data);
  d.size = static_cast<std::int64_t>(data.size());
  MemoryReader reader(data);
  registry->put_blob(repo, d, reader);
  CHECK(storage_blob(env("KILN_TEST_REGISTRY_STORAGE"), d.digest) == data);
  int posts = 0;
  std::vector<std::string> patch_ranges;
  bool queried = false;
  for (const auto& e : parse_log(server)) {
    if (str(e, "method") == "POST") ++posts;
    if (str(e, "method") == "PATCH") patch_ranges.push_back(str(e, "content_range"));
    if (str(e, "method") == "GET" && str(e, "path").find("/blobs/uploads/") != std::string::npos) queried = true;
  }
  CHECK(posts == 1);  // resumed in the same session, not started over
  CHECK(queried);
  CHECK(patch_ranges == std::vector<std::string>{"0-1048575", "1048576-2097151", "1048576-2097151",
                                                 "2097152-3145727", "3145728-3145738"});
}

TEST_CASE("an upload cut off mid-body starts over in a new session when the registry dropped the old one") {
  std::string upstream = env("KILN_TEST_REGISTRY");
  FakeRegistry server("proxy", {"--upstream", upstream, "--faults", "reset-upload"});
  auto registry = kiln::open_remote_registry(server.host(), {});
  std::string repo = unique_repo("reset-patch");
  std::string data = random_bytes(4 * 1024 * 1024 + 11, 33);
  kiln::Descriptor d;
  d.digest = kiln::Digest::of(data);
  d.size = static_cast<std::int64_t>(data.size());
  MemoryReader reader(data);
  registry->put_blob(repo, d, reader);
  CHECK(reader.seeks >= 1);
  CHECK(storage_blob(env("KILN_TEST_REGISTRY_STORAGE"), d.digest) == data);
  int uploads = 0, posts = 0;
  for (const auto& e : parse_log(server)) {
    if (str(e, "method") == "PUT" && e.at("body_length").as_int64() > 0) ++uploads;
    if (str(e, "method") == "POST") ++posts;
  }
  CHECK(uploads == 2);  // cut off, then again in full
  CHECK(posts == 2);    // distribution dropped the first session

  // A reader that cannot seek cannot resume: the upload fails cleanly.
  FakeRegistry again("proxy", {"--upstream", upstream, "--faults", "reset-upload"});
  auto registry2 = kiln::open_remote_registry(again.host(), {});
  std::string data2 = random_bytes(4 * 1024 * 1024, 34);
  kiln::Descriptor d2;
  d2.digest = kiln::Digest::of(data2);
  d2.size = static_cast<std::int64_t>(data2.size());
  MemoryReader stream(data2, false);
  CHECK(code_of([&] { registry2->put_blob(repo, d2, stream); }) == kiln::Errc::network);
  // ... and the session was cancelled with a DELETE.
  bool deleted = false;
  for (const auto& e : parse_log(again)) {
    if (str(e, "method") == "DELETE" && str(e, "path").find("/blobs/uploads/") != std::string::npos) deleted = true;
  }
  CHECK(deleted);
  CHECK_FALSE(storage_blob(env("KILN_TEST_REGISTRY_STORAGE"), d2.digest).has_value());
}

TEST_CASE("cancel from another thread ends a slow blob transfer") {
  std::string upstream = env("KILN_TEST_REGISTRY");
  auto direct = kiln::open_remote_registry(upstream, plain_options());
  std::string repo = unique_repo("cancel");
  // 200 bytes at one byte per 0.5 s: 100 s if the cancel were ignored, and
  // the transfer would then succeed, which the test refuses.
  std::string data = random_bytes(200, 35);
  kiln::Descriptor d;
  d.digest = kiln::Digest::of(data);
  d.size = static_cast<std::int64_t>(data.size());
  MemoryReader reader(data);
  direct->put_blob(repo, d, reader);

  FakeRegistry server("proxy", {"--upstream", upstream, "--faults", "slow-blob"});
  auto registry = kiln::open_remote_registry(server.host(), {});
  kiln::CancelToken cancel;
  std::size_t received = 0;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    cancel.cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto code = code_of([&] { registry->get_blob(repo, d, [&](const char*, std::size_t n) { received += n; }, cancel); });
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  canceller.join();
  CHECK(code == kiln::Errc::cancelled);
  CHECK(received < data.size());
  MESSAGE("cancelled after " << elapsed.count() << " ms (cancel sent at 1500 ms), " << received << " bytes received");
}

TEST_CASE("pagination follows relative and absolute Links on the same host and refuses another host") {
  FakeRegistry server("pages");
  auto registry = kiln::open_remote_registry(server.host(), {});
  CHECK(registry->tags("paged") == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(registry->catalog() == std::vector<std::string>{"r1", "r2", "r3"});
  CHECK(code_of([&] { registry->tags("escape"); }) == kiln::Errc::protocol);
  CHECK(registry->tags("capped") == std::vector<std::string>{"x"});  // refuses n=1000: asked again without
  for (const auto& e : parse_log(server)) CHECK(str(e, "listen") == "127.0.0.1");
}

namespace {

// Hands out 64 KiB every 100 ms: a 5 MiB upload would take 8 s.
class SlowReader : public kiln::BlobReader {
 public:
  explicit SlowReader(std::string data) : data_(std::move(data)) {}
  std::size_t read(char* buffer, std::size_t size) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::size_t n = std::min({size, std::size_t{65536}, data_.size() - pos_});
    std::memcpy(buffer, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t pos_ = 0;
};

}  // namespace

TEST_CASE("cancel during an upload: the call ends cancelled and the upload session is deleted") {
  std::string upstream = env("KILN_TEST_REGISTRY");
  FakeRegistry server("proxy", {"--upstream", upstream});
  auto registry = kiln::open_remote_registry(server.host(), {});
  std::string repo = unique_repo("cancel-up");
  std::string data = random_bytes(5 * 1024 * 1024, 37);
  kiln::Descriptor d;
  d.digest = kiln::Digest::of(data);
  d.size = static_cast<std::int64_t>(data.size());
  SlowReader reader(data);
  kiln::CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    cancel.cancel();
  });
  auto code = code_of([&] { registry->put_blob(repo, d, reader, cancel); });
  canceller.join();
  CHECK(code == kiln::Errc::cancelled);
  bool deleted = false;
  for (const auto& e : parse_log(server)) {
    if (str(e, "method") == "DELETE" && str(e, "path").find("/blobs/uploads/") != std::string::npos) deleted = true;
  }
  CHECK(deleted);
  CHECK_FALSE(storage_blob(env("KILN_TEST_REGISTRY_STORAGE"), d.digest).has_value());
}

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <mutex>
#include <thread>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"
#include "temp_dir.hpp"
#include "test_image.hpp"

using namespace kiln;
using kiln_test::TempDir;
namespace fs = std::filesystem;

namespace {

// Stores one OCI layout per repository under a root. Unlike OciLayout it is
// not a file the copier can read directly, so copies between two of them go
// through get_blob -> pipe -> put_blob; and two of them on the same root are
// "the same storage", so the copier must use mount_blob.
class LayoutPerRepository : public Registry {
 public:
  explicit LayoutPerRepository(fs::path root, bool can_mount = true) : root_(std::move(root)), can_mount_(can_mount) {}
  Registry& at(const std::string& repository) {
    std::lock_guard lock(mutex_);
    auto& slot = layouts_[repository];
    if (!slot) slot = open_oci_layout(root_ / repository, true);
    return *slot;
  }
  std::string describe() const override { return "test store " + root_.string(); }
  std::optional<Descriptor> resolve(const std::string& r, const std::string& ref, const CancelToken& c) override {
    return at(r).resolve(r, ref, c);
  }
  Manifest get_manifest(const std::string& r, const std::string& ref, const CancelToken& c) override {
    return at(r).get_manifest(r, ref, c);
  }
  void put_manifest(const std::string& r, const std::string& ref, const Manifest& m, const CancelToken& c) override {
    at(r).put_manifest(r, ref, m, c);
  }
  void delete_manifest(const std::string& r, const Digest& d, const CancelToken& c) override { at(r).delete_manifest(r, d, c); }
  std::vector<std::string> tags(const std::string& r, const CancelToken& c) override { return at(r).tags(r, c); }
  std::vector<std::string> catalog(const CancelToken&) override { return {}; }
  std::optional<std::int64_t> stat_blob(const std::string& r, const Digest& d, const CancelToken& c) override {
    return at(r).stat_blob(r, d, c);
  }
  void get_blob(const std::string& r, const Descriptor& b, const BlobWriter& w, const CancelToken& c) override {
    at(r).get_blob(r, b, w, c);
  }
  void put_blob(const std::string& r, const Descriptor& b, BlobReader& reader, const CancelToken& c) override {
    at(r).put_blob(r, b, reader, c);
  }
  bool mount_blob(const std::string& r, const Digest& d, const std::string& from, const CancelToken& c) override {
    mount_calls++;
    auto size = at(from).stat_blob(from, d, c);
    if (!can_mount_ || !size) return false;
    Descriptor blob{media_type::oci_layer, d, *size, {}, {}};
    std::string data;
    at(from).get_blob(from, blob, [&](const char* p, std::size_t n) { data.append(p, n); }, c);
    kiln_test::StringReader reader(data);
    at(r).put_blob(r, blob, reader, c);
    return true;
  }
  bool same_storage(const Registry& other) const override {
    auto* o = dynamic_cast<const LayoutPerRepository*>(&other);
    return o && o->root_ == root_;
  }
  int mount_calls = 0;

 private:
  fs::path root_;
  bool can_mount_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Registry>> layouts_;
};

struct Recorder {
  std::mutex mutex;
  std::vector<std::pair<std::string, boost::json::object>> events;
  EventSink sink() {
    return [this](const Event& e) {
      std::lock_guard lock(mutex);
      events.emplace_back(e.type, boost::json::parse(e.json).as_object());
      return true;
    };
  }
  std::size_t count(const std::string& type) {
    std::size_t n = 0;
    for (auto& [t, _] : events) n += t == type;
    return n;
  }
};

Errc code_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.code();
  }
  return Errc::ok;
}

}  // namespace

TEST_CASE("copy an image between layouts, then again (everything skipped)") {
  TempDir dir;
  auto source = open_oci_layout(dir / "src", true);
  auto target = open_oci_layout(dir / "dst", true);
  auto image = kiln_test::make_image(*source, "", "1.0", {10000, 20000, 30000});

  Recorder recorder;
  CopyOptions options;
  options.extra_tags = {"latest"};
  auto result = copy_image(*source, "", "1.0", *target, "", "", options, recorder.sink());
  CHECK(result.descriptor.digest == image.manifest.digest());
  CHECK(result.blobs_copied == 4);
  CHECK(result.bytes_copied == 60000 + image.config.size);
  CHECK(result.manifests_put == 2);
  CHECK(target->get_manifest("", "1.0").bytes == image.manifest.bytes);  // byte for byte
  CHECK(target->tags("") == std::vector<std::string>{"1.0", "latest"});
  CHECK(recorder.count("blob.start") == 4);
  CHECK(recorder.count("blob.done") == 4);
  CHECK(recorder.count("manifest.put") == 2);
  REQUIRE(recorder.count("copy.done") == 1);
  auto done = recorder.events.back().second;
  CHECK(done["digest"].as_string() == image.manifest.digest().str());
  CHECK(done["blobsCopied"].as_int64() == 4);
  for (auto& [type, details] : recorder.events) {
    if (type.rfind("blob.", 0) == 0) CHECK(Digest::is_valid(details["digest"].as_string()));
  }

  Recorder again;
  auto second = copy_image(*source, "", "1.0", *target, "", "2.0", {}, again.sink());
  CHECK(second.blobs_skipped == 4);
  CHECK(second.blobs_copied == 0);
  CHECK(again.count("blob.skipped") == 4);
  CHECK(again.count("blob.start") == 0);
  CHECK(target->resolve("", "2.0")->digest == image.manifest.digest());
}

TEST_CASE("copy an index: all platforms, children first; or a platform filter") {
  TempDir dir;
  auto source = open_oci_layout(dir / "src", true);
  auto amd = kiln_test::make_image(*source, "", "", {1000}, 1, "amd64");
  auto arm = kiln_test::make_image(*source, "", "", {2000}, 2, "arm64");
  auto index = kiln_test::make_index(*source, "", "multi",
                                     {{amd.manifest, Platform{"linux", "amd64", "", ""}},
                                      {arm.manifest, Platform{"linux", "arm64", "v8", ""}}});

  SUBCASE("all platforms") {
    auto target = open_oci_layout(dir / "all", true);
    Recorder recorder;
    auto result = copy_image(*source, "", "multi", *target, "", "", {}, recorder.sink());
    CHECK(result.descriptor.digest == index.digest());
    CHECK(result.blobs_copied == 4);
    CHECK(result.manifests_put == 3);
    std::vector<std::string> order;
    for (auto& [type, details] : recorder.events) {
      if (type == "manifest.put") order.push_back(std::string(details["digest"].as_string()));
    }
    REQUIRE(order.size() == 3);
    CHECK(order.back() == index.digest().str());  // the index last, after its children
    CHECK(target->get_manifest("", "multi").bytes == index.bytes);
    CHECK(target->get_manifest("", arm.manifest.digest().str()).bytes == arm.manifest.bytes);
  }
  SUBCASE("one platform") {
    auto target = open_oci_layout(dir / "arm", true);
    CopyOptions options;
    options.platforms = {"linux/arm64"};
    auto result = copy_image(*source, "", "multi", *target, "", "", options);
    CHECK(result.descriptor.digest != index.digest());  // rewritten
    Manifest copied = target->get_manifest("", "multi");
    auto refs = copied.references();
    REQUIRE(refs.size() == 1);
    CHECK(refs[0].digest == arm.manifest.digest());
    CHECK_FALSE(target->stat_blob("", amd.layers[0].digest));
    CHECK(target->stat_blob("", arm.layers[0].digest));
  }
  SUBCASE("bad or absent platforms") {
    auto target = open_oci_layout(dir / "none", true);
    CopyOptions options;
    options.platforms = {"linux/s390x"};
    CHECK(code_of([&] { copy_image(*source, "", "multi", *target, "", "", options); }) == Errc::not_found);
    options.platforms = {"linux"};
    CHECK(code_of([&] { copy_image(*source, "", "multi", *target, "", "", options); }) == Errc::invalid_argument);
    options.platforms = {"linux/arm64/v8/x"};
    CHECK(code_of([&] { copy_image(*source, "", "multi", *target, "", "", options); }) == Errc::invalid_argument);
    CHECK(target->tags("").empty());
  }
}

TEST_CASE("streaming through the pipe (a store that is not a file)") {
  TempDir dir;
  LayoutPerRepository source(dir / "a");
  LayoutPerRepository target(dir / "b");
  // Larger than the pipe, so the producer has to wait for the uploader.
  auto image = kiln_test::make_image(source, "app", "v", {9 << 20, 5 << 20, 3});
  Recorder recorder;
  CopyOptions options;
  options.parallel_blobs = 2;
  auto result = copy_image(source, "app", "v", target, "copy", "v", options, recorder.sink());
  CHECK(result.blobs_copied == 4);
  CHECK(target.get_manifest("copy", "v", {}).bytes == image.manifest.bytes);
  CHECK(target.stat_blob("copy", image.layers[0].digest, {}) == (9 << 20));
  CHECK(source.mount_calls + target.mount_calls == 0);
}

TEST_CASE("same storage: blobs are mounted, or streamed when the mount is refused") {
  TempDir dir;
  LayoutPerRepository store(dir / "s");
  auto image = kiln_test::make_image(store, "app", "v", {1000, 2000});
  Recorder recorder;
  auto result = copy_image(store, "app", "v", store, "other", "v", {}, recorder.sink());
  CHECK(result.blobs_mounted == 3);
  CHECK(result.blobs_copied == 0);
  CHECK(recorder.count("blob.mounted") == 3);
  CHECK(store.get_manifest("other", "v", {}).bytes == image.manifest.bytes);

  LayoutPerRepository refusing(dir / "r", false);
  kiln_test::make_image(refusing, "app", "v", {1000});
  auto fallback = copy_image(refusing, "app", "v", refusing, "other", "v");
  CHECK(fallback.blobs_mounted == 0);
  CHECK(fallback.blobs_copied == 2);
  CHECK(refusing.mount_calls == 2);
}

TEST_CASE("a corrupt source blob fails the copy and nothing is stored under its digest") {
  TempDir dir;
  LayoutPerRepository source(dir / "a");
  auto target = open_oci_layout(dir / "dst", true);
  auto image = kiln_test::make_image(source, "app", "v", {4 << 20});
  fs::path blob = dir / "a" / "app" / "blobs" / "sha256" / image.layers[0].digest.hex();
  {
    std::fstream f(blob, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(1 << 20);
    f << "corrupt";
  }
  try {
    copy_image(source, "app", "v", *target, "", "v");
    FAIL("copied a corrupt blob");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::digest_mismatch);
    CHECK(std::string(e.what()).find(image.layers[0].digest.str()) != std::string::npos);
  }
  CHECK_FALSE(target->stat_blob("", image.layers[0].digest));
  CHECK_FALSE(target->resolve("", "v"));
}

TEST_CASE("cancellation: by the token, by the event sink, from another thread") {
  TempDir dir;
  auto source = open_oci_layout(dir / "src", true);
  kiln_test::make_image(*source, "", "v", {1000, 2000});

  SUBCASE("token already triggered") {
    auto target = open_oci_layout(dir / "t1", true);
    CancelToken cancel;
    cancel.cancel();
    CHECK(code_of([&] { copy_image(*source, "", "v", *target, "", "v", {}, {}, cancel); }) == Errc::cancelled);
    CHECK_FALSE(target->resolve("", "v"));
  }
  SUBCASE("sink returns false") {
    auto target = open_oci_layout(dir / "t2", true);
    EventSink stop = [](const Event& e) { return e.type != "blob.start"; };
    CHECK(code_of([&] { copy_image(*source, "", "v", *target, "", "v", {}, stop); }) == Errc::cancelled);
    CHECK_FALSE(target->resolve("", "v"));
  }
  SUBCASE("another thread, during a stream that would never end") {
    // A source whose blob download blocks until cancelled.
    struct Stuck : LayoutPerRepository {
      using LayoutPerRepository::LayoutPerRepository;
      void get_blob(const std::string&, const Descriptor&, const BlobWriter& w, const CancelToken& c) override {
        char byte = 0;
        w(&byte, 1);
        while (!c.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        throw Error(Errc::cancelled, "download cancelled");
      }
    } stuck(dir / "stuck");
    kiln_test::make_image(stuck, "app", "v", {100});
    auto target = open_oci_layout(dir / "t3", true);
    CancelToken cancel;
    std::thread canceller;
    EventSink on_start = [&](const Event& e) {
      if (e.type == "blob.start" && !canceller.joinable()) canceller = std::thread([cancel]() mutable { cancel.cancel(); });
      return true;
    };
    CHECK(code_of([&] { copy_image(stuck, "app", "v", *target, "", "v", {}, on_start, cancel); }) == Errc::cancelled);
    if (canceller.joinable()) canceller.join();
    CHECK_FALSE(target->resolve("", "v"));
  }
}

TEST_CASE("target reference rules") {
  TempDir dir;
  auto source = open_oci_layout(dir / "src", true);
  auto image = kiln_test::make_image(*source, "", "v", {10});
  auto target = open_oci_layout(dir / "dst", true);
  CHECK(code_of([&] { copy_image(*source, "", "v", *target, "", Digest::of("x").str()); }) == Errc::invalid_argument);
  CopyOptions options;
  options.extra_tags = {""};
  CHECK(code_of([&] { copy_image(*source, "", "v", *target, "", "v", options); }) == Errc::invalid_argument);
  auto by_digest = copy_image(*source, "", image.manifest.digest().str(), *target, "", "");
  CHECK(by_digest.descriptor.digest == image.manifest.digest());
  CHECK(target->resolve("", image.manifest.digest().str()));
  // Reachable through index.json although untagged: "oci:<dir>" names it.
  CHECK(target->resolve("", "")->digest == image.manifest.digest());
  CHECK(target->tags("").empty());
  CHECK(code_of([&] { copy_image(*source, "", "absent", *target, "", "x"); }) == Errc::not_found);
}

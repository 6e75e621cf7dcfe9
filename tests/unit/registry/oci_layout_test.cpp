#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"
#include "temp_dir.hpp"
#include "test_image.hpp"

using namespace kiln;
using kiln_test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::size_t files_in(const fs::path& directory) {
  std::size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(directory); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

Errc code_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.code();
  }
  return Errc::ok;
}

}  // namespace

TEST_CASE("a new layout has the files the image-layout spec requires") {
  TempDir dir;
  auto layout = open_oci_layout(dir / "l", true);
  auto layout_file = boost::json::parse(slurp(dir / "l/oci-layout")).as_object();
  CHECK(layout_file["imageLayoutVersion"].as_string() == "1.0.0");
  auto index = boost::json::parse(slurp(dir / "l/index.json")).as_object();
  CHECK(index["schemaVersion"].as_int64() == 2);
  CHECK(index["manifests"].as_array().empty());
  CHECK(fs::is_directory(dir / "l/blobs/sha256"));
  CHECK(layout->tags("").empty());
  CHECK(layout->catalog() == std::vector<std::string>{""});
  CHECK(layout->describe().find(dir.path().string()) != std::string::npos);
}

TEST_CASE("opening what is not a layout fails with a clear error") {
  TempDir dir;
  CHECK(code_of([&] { open_oci_layout(dir / "missing", false); }) == Errc::not_found);
  fs::create_directories(dir / "plain");
  try {
    open_oci_layout(dir / "plain", false);
    FAIL("opened a directory without oci-layout");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid_argument);
    CHECK(std::string(e.what()).find("oci-layout") != std::string::npos);
  }
  std::ofstream(dir / "plain/index.json") << "{}";
  CHECK(code_of([&] { open_oci_layout(dir / "plain", true); }) == Errc::invalid_argument);
  CHECK(slurp(dir / "plain/index.json") == "{}");  // never overwritten
  fs::create_directories(dir / "v2");
  std::ofstream(dir / "v2/oci-layout") << R"({"imageLayoutVersion":"2.0.0"})";
  CHECK(code_of([&] { open_oci_layout(dir / "v2", false); }) == Errc::unsupported);
  fs::create_directories(dir / "badindex/blobs");
  std::ofstream(dir / "badindex/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  std::ofstream(dir / "badindex/index.json") << R"({"schemaVersion":2,"manifests":[{"digest":"x"}]})";
  auto layout = open_oci_layout(dir / "badindex", false);
  try {
    layout->tags("");
    FAIL("read a malformed index.json");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::protocol);
    CHECK(std::string(e.what()).find("manifests[0].mediaType") != std::string::npos);
  }
}

TEST_CASE("blobs are stored only under their verified digest") {
  TempDir dir;
  auto layout = open_oci_layout(dir / "l", true);
  std::string data = kiln_test::random_bytes(3 << 20, 7);
  Descriptor d{media_type::oci_layer, Digest::of(data), static_cast<std::int64_t>(data.size()), {}, {}};

  SUBCASE("wrong digest") {
    Descriptor wrong = d;
    wrong.digest = Digest::of("something else");
    kiln_test::StringReader reader(data);
    CHECK(code_of([&] { layout->put_blob("", wrong, reader); }) == Errc::digest_mismatch);
  }
  SUBCASE("short input") {
    Descriptor longer = d;
    longer.size += 1;
    kiln_test::StringReader reader(data);
    CHECK(code_of([&] { layout->put_blob("", longer, reader); }) == Errc::digest_mismatch);
  }
  SUBCASE("long input") {
    Descriptor shorter = d;
    shorter.size -= 1;
    kiln_test::StringReader reader(data);
    CHECK(code_of([&] { layout->put_blob("", shorter, reader); }) == Errc::digest_mismatch);
  }
  SUBCASE("cancelled") {
    CancelToken cancel;
    cancel.cancel();
    kiln_test::StringReader reader(data);
    CHECK(code_of([&] { layout->put_blob("", d, reader, cancel); }) == Errc::cancelled);
  }
  // Nothing but the three layout files: no blob, no temporary file left.
  CHECK(files_in(dir / "l") == 2);
  CHECK_FALSE(layout->stat_blob("", d.digest));

  kiln_test::StringReader reader(data);
  layout->put_blob("", d, reader);
  CHECK(layout->stat_blob("", d.digest) == d.size);
  CHECK(slurp(dir / ("l/blobs/sha256/" + d.digest.hex())) == data);
  std::string read_back;
  layout->get_blob("", d, [&](const char* p, std::size_t n) { read_back.append(p, n); });
  CHECK(read_back == data);

  // A corrupted blob file is detected on read.
  std::ofstream(dir / ("l/blobs/sha256/" + d.digest.hex()), std::ios::binary | std::ios::in | std::ios::out) << "X";
  CHECK(code_of([&] { layout->get_blob("", d, [](const char*, std::size_t) {}); }) == Errc::digest_mismatch);
}

TEST_CASE("manifests: put by tag, resolve, get, tags, delete") {
  TempDir dir;
  auto layout = open_oci_layout(dir / "l", true);
  auto image = kiln_test::make_image(*layout, "", "v1", {1000, 2000});
  auto index = boost::json::parse(slurp(dir / "l/index.json")).as_object();
  REQUIRE(index["manifests"].as_array().size() == 1);
  auto entry = index["manifests"].as_array()[0].as_object();
  CHECK(entry["annotations"].as_object()["org.opencontainers.image.ref.name"].as_string() == "v1");
  CHECK(entry["digest"].as_string() == image.manifest.digest().str());

  auto resolved = layout->resolve("", "v1");
  REQUIRE(resolved);
  CHECK(resolved->digest == image.manifest.digest());
  CHECK(resolved->media_type == media_type::oci_manifest);
  CHECK(layout->resolve("", image.manifest.digest().str())->digest == image.manifest.digest());
  CHECK(layout->resolve("", "")->digest == image.manifest.digest());  // the only image
  CHECK_FALSE(layout->resolve("", "v2"));
  CHECK_FALSE(layout->resolve("", Digest::of("nope").str()));
  CHECK(layout->get_manifest("", "v1").bytes == image.manifest.bytes);
  CHECK(code_of([&] { layout->get_manifest("", "v2"); }) == Errc::not_found);

  layout->put_manifest("", "v2", image.manifest);
  layout->put_manifest("", "v1", image.manifest);  // re-tagging replaces, never duplicates
  CHECK(layout->tags("") == std::vector<std::string>{"v1", "v2"});
  CHECK(code_of([&] { layout->resolve("", ""); }) == Errc::invalid_argument);  // ambiguous now

  // A manifest whose blobs are missing, or stored under another digest, is refused.
  Manifest dangling{media_type::oci_manifest,
                    R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                        Digest::of("absent").str() + R"(","size":6},"layers":[]})"};
  CHECK(code_of([&] { layout->put_manifest("", "x", dangling); }) == Errc::invalid_argument);
  CHECK(code_of([&] { layout->put_manifest("", Digest::of("other").str(), image.manifest); }) == Errc::digest_mismatch);
  CHECK(code_of([&] { layout->put_manifest("", "bad tag", image.manifest); }) == Errc::invalid_argument);
  CHECK(code_of([&] { layout->put_manifest("", "x", Manifest{media_type::oci_config, "{}"}); }) == Errc::invalid_argument);

  CHECK(delete_image(*layout, "", "v2") == image.manifest.digest());
  CHECK(layout->tags("").empty());  // deleting a digest removes every tag pointing at it
  CHECK(code_of([&] { delete_image(*layout, "", "v1"); }) == Errc::not_found);
  CHECK(code_of([&] { layout->delete_manifest("", image.manifest.digest()); }) == Errc::not_found);
}

TEST_CASE("concurrent writers never lose an index entry") {
  TempDir dir;
  auto layout = open_oci_layout(dir / "l", true);
  auto image = kiln_test::make_image(*layout, "", "", {100});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Separate handles, as separate processes would have.
      auto own = open_oci_layout(dir / "l", false);
      for (int i = 0; i < 10; ++i) own->put_manifest("", "t" + std::to_string(t) + "-" + std::to_string(i), image.manifest);
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(layout->tags("").size() == 40);
}

TEST_CASE("inspect reports layers, sizes and the platform") {
  TempDir dir;
  auto layout = open_oci_layout(dir / "l", true);
  auto amd = kiln_test::make_image(*layout, "", "", {1000, 3000}, 1, "amd64");
  auto arm = kiln_test::make_image(*layout, "", "", {1000, 5000}, 2, "arm64");
  auto index = kiln_test::make_index(*layout, "", "multi",
                                     {{amd.manifest, Platform{"linux", "amd64", "", ""}},
                                      {arm.manifest, Platform{"linux", "arm64", "v8", ""}}});
  layout->put_manifest("", "single", amd.manifest);

  auto single = boost::json::parse(inspect_image(*layout, "", "single")).as_object();
  CHECK(single["mediaType"].as_string() == media_type::oci_manifest);
  CHECK(single["digest"].as_string() == amd.manifest.digest().str());
  CHECK(single["platform"].as_string() == "linux/amd64");
  CHECK(single["config"].as_object()["digest"].as_string() == amd.config.digest.str());
  REQUIRE(single["layers"].as_array().size() == 2);
  CHECK(single["layers"].as_array()[1].as_object()["size"].as_int64() == 3000);
  CHECK(single["totalSize"].as_int64() ==
        static_cast<std::int64_t>(amd.manifest.bytes.size()) + amd.config.size + 4000);

  auto multi = boost::json::parse(inspect_image(*layout, "", "multi")).as_object();
  CHECK(multi["mediaType"].as_string() == media_type::oci_index);
  auto& platforms = multi["platforms"].as_array();
  REQUIRE(platforms.size() == 2);
  CHECK(platforms[1].as_object()["platform"].as_string() == "linux/arm64/v8");
  CHECK(platforms[1].as_object()["layers"].as_array().size() == 2);
  // The two images share no layer (different seeds): everything counted once.
  std::int64_t expected = static_cast<std::int64_t>(index.bytes.size() + amd.manifest.bytes.size() +
                                                    arm.manifest.bytes.size()) +
                          amd.config.size + arm.config.size + 4000 + 6000;
  CHECK(multi["totalSize"].as_int64() == expected);
}

TEST_CASE("rewriting index.json keeps what kiln does not model") {
  TempDir dir;
  auto layout = open_oci_layout(dir / "l", true);
  auto image = kiln_test::make_image(*layout, "", "", {10});
  std::string entry = R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                      image.manifest.digest().str() + R"(","size":)" + std::to_string(image.manifest.bytes.size()) +
                      R"(,"artifactType":"application/x-test","annotations":{"org.opencontainers.image.ref.name":"old"}})";
  std::ofstream(dir / "l/index.json", std::ios::trunc)
      << R"({"schemaVersion":2,"annotations":{"keep":"me"},"manifests":[)" << entry << "]}";
  layout->put_manifest("", "new", image.manifest);
  auto index = boost::json::parse(slurp(dir / "l/index.json")).as_object();
  CHECK(index["annotations"].as_object()["keep"].as_string() == "me");
  auto& manifests = index["manifests"].as_array();
  REQUIRE(manifests.size() == 2);
  CHECK(manifests[0].as_object()["artifactType"].as_string() == "application/x-test");
  CHECK(layout->tags("") == std::vector<std::string>{"new", "old"});
}

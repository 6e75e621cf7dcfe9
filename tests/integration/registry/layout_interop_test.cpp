// OCI layouts written by kiln must be readable by skopeo and umoci, and kiln
// must read layouts skopeo writes. The checks use those tools' own view.
#include <boost/json.hpp>

#include "kiln/registry.hpp"
#include "registry/temp_dir.hpp"
#include "registry/test_image.hpp"
#include "support.hpp"

using namespace kiln;
using kiln_test::must_run;
using kiln_test::quote;
using kiln_test::TempDir;

TEST_CASE("skopeo and umoci read an image layout kiln wrote") {
  TempDir dir;
  std::string path = (dir / "kiln").string();
  auto layout = open_oci_layout(path, true);
  auto image = kiln_test::make_image(*layout, "", "1.0", {4096, 10000});
  auto amd = kiln_test::make_image(*layout, "", "", {300}, 3, "amd64");
  auto arm = kiln_test::make_image(*layout, "", "", {400}, 4, "arm64");
  auto index = kiln_test::make_index(*layout, "", "multi",
                                     {{amd.manifest, Platform{"linux", "amd64", "", ""}},
                                      {arm.manifest, Platform{"linux", "arm64", "", ""}}});

  CHECK(must_run("skopeo inspect --raw " + quote("oci:" + path + ":1.0")) == image.manifest.bytes);
  auto inspected = boost::json::parse(must_run("skopeo inspect " + quote("oci:" + path + ":1.0"))).as_object();
  CHECK(inspected["Digest"].as_string() == image.manifest.digest().str());
  CHECK(inspected["Architecture"].as_string() == "amd64");
  CHECK(inspected["Layers"].as_array().size() == 2);
  CHECK(must_run("skopeo inspect --raw " + quote("oci:" + path + ":multi")) == index.bytes);

  std::string listed = must_run("umoci ls --layout " + quote(path));
  CHECK(listed.find("1.0") != std::string::npos);
  CHECK(listed.find("multi") != std::string::npos);
  must_run("umoci stat --image " + quote(path + ":1.0"));

  // skopeo copies everything out of kiln's layout, digests preserved.
  std::string copy = (dir / "skopeo").string();
  must_run("skopeo copy -q --all --preserve-digests " + quote("oci:" + path + ":multi") + " " + quote("oci:" + copy + ":m"));
  auto reread = open_oci_layout(copy, false);
  INFO("kiln index: " << index.bytes);
  INFO("skopeo copy: " << must_run("skopeo inspect --raw " + quote("oci:" + copy + ":m")));
  CHECK(reread->resolve("", "m")->digest == index.digest());
}

TEST_CASE("kiln reads, copies and re-tags a layout skopeo wrote") {
  auto base = kiln_test::service("KILN_TEST_BASE_IMAGE_OCI");
  if (!base) return;
  TempDir dir;
  std::string skopeo_made = (dir / "skopeo").string();
  must_run("skopeo copy -q " + quote("oci:" + *base + ":latest") + " " + quote("oci:" + skopeo_made + ":busybox"));

  auto source = open_oci_layout(skopeo_made, false);
  CHECK(source->tags("") == std::vector<std::string>{"busybox"});
  Manifest manifest = source->get_manifest("", "busybox");
  auto target = open_oci_layout(dir / "kiln", true);
  auto result = copy_image(*source, "", "busybox", *target, "", "1");
  CHECK(result.descriptor.digest == manifest.digest());

  // umoci unpack checks every layer against its digest and applies the tars.
  std::string bundle = (dir / "bundle").string();
  must_run("umoci unpack --rootless --image " + quote((dir / "kiln").string() + ":1") + " " + quote(bundle));
  CHECK(std::filesystem::exists(dir / "bundle" / "rootfs" / "bin" / "busybox"));
  auto inspected = boost::json::parse(must_run("skopeo inspect " + quote("oci:" + (dir / "kiln").string() + ":1"))).as_object();
  CHECK(inspected["Digest"].as_string() == manifest.digest().str());

  auto info = boost::json::parse(inspect_image(*target, "", "1")).as_object();
  CHECK(info["digest"].as_string() == manifest.digest().str());
  CHECK(info["platform"].as_string() == "linux/amd64");

  // skopeo reads the copy again after kiln deleted one tag and kept another.
  target->put_manifest("", "2", manifest);
  CHECK(delete_image(*target, "", "1") == manifest.digest());
  CHECK(target->tags("").empty());
  CHECK(kiln_test::run("skopeo inspect --raw " + quote("oci:" + (dir / "kiln").string() + ":2")).status != 0);
}

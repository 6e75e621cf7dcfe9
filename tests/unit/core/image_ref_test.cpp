#include <doctest/doctest.h>

#include "kiln/error.hpp"
#include "kiln/image_ref.hpp"

using kiln::ImageRef;

namespace {
std::string error_of(const std::string& text) {
  try {
    ImageRef::parse(text);
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::invalid_argument);
    return e.what();
  }
  return {};
}
}  // namespace

TEST_CASE("docker hub normalization") {
  auto ref = ImageRef::parse("ubuntu");
  CHECK(ref.registry() == "docker.io");
  CHECK(ref.repository() == "library/ubuntu");
  CHECK(ref.tag() == "latest");
  CHECK(ref.str() == "docker.io/library/ubuntu:latest");
  CHECK(ImageRef::parse("bitnami/redis:7").str() == "docker.io/bitnami/redis:7");
  CHECK(ImageRef::parse("index.docker.io/library/ubuntu").str() == "docker.io/library/ubuntu:latest");
}

TEST_CASE("registries with ports, localhost and IPv6") {
  auto ref = ImageRef::parse("localhost:5000/team/app:v1.2");
  CHECK(ref.registry() == "localhost:5000");
  CHECK(ref.repository() == "team/app");
  CHECK(ref.tag() == "v1.2");
  CHECK(ImageRef::parse("localhost/app").registry() == "localhost");
  CHECK(ImageRef::parse("127.0.0.1:5000/app").registry() == "127.0.0.1:5000");
  CHECK(ImageRef::parse("[::1]:5000/app:x").registry() == "[::1]:5000");
  CHECK(ImageRef::parse("Registry.Example.com/app").registry() == "Registry.Example.com");
}

TEST_CASE("tag and digest together") {
  std::string digest = "sha256:" + std::string(64, 'b');
  auto ref = ImageRef::parse("ghcr.io/o/r:1@" + digest);
  CHECK(ref.tag() == "1");
  REQUIRE(ref.digest());
  CHECK(ref.digest()->str() == digest);
  CHECK(ref.reference() == digest);
  auto by_digest = ImageRef::parse("ghcr.io/o/r@" + digest);
  CHECK(by_digest.tag().empty());
  CHECK(by_digest.str() == "ghcr.io/o/r@" + digest);
}

TEST_CASE("path component separators") {
  CHECK_NOTHROW(ImageRef::parse("a/b__c/d-e---f/g.h_i"));
  CHECK(error_of("a/b...c").find("invalid separator") != std::string::npos);
  CHECK(error_of("a/-b").find("must start and end") != std::string::npos);
  CHECK(error_of("reg.io/Upper").find("must be lower case") != std::string::npos);
  CHECK(error_of("reg.io//x").find("empty component") != std::string::npos);
}

TEST_CASE("bad references name the bad part") {
  CHECK(error_of("").find("empty") != std::string::npos);
  CHECK(error_of("app:").find("tag is empty") != std::string::npos);
  CHECK(error_of("app:-x").find("must start with") != std::string::npos);
  CHECK(error_of("app:" + std::string(129, 'a')).find("longer than 128") != std::string::npos);
  CHECK(error_of("app@sha256:zz").find("digest") != std::string::npos);
  CHECK(error_of("a b").find("whitespace") != std::string::npos);
  CHECK(error_of("reg.io:port/app").find("not a number") != std::string::npos);
  CHECK(error_of("-bad.io/app").find("not a valid host name") != std::string::npos);
  CHECK(error_of("reg.io/" + std::string(260, 'a')).find("longer than 255") != std::string::npos);
  // As in docker: "localhost:5000" alone is docker.io/library/localhost with tag 5000.
  CHECK(ImageRef::parse("localhost:5000").str() == "docker.io/library/localhost:5000");
}

TEST_CASE("repository references carry no tag") {
  auto repo = ImageRef::parse_repository("localhost:5000/app");
  CHECK(repo.tag().empty());
  CHECK(repo.name() == "localhost:5000/app");
  CHECK_THROWS_AS(ImageRef::parse_repository("localhost:5000/app:v1"), kiln::Error);
}

TEST_CASE("printing round-trips") {
  for (const char* text : {"ubuntu", "a.io/b/c:d", "localhost:1/x@sha256:0000000000000000000000000000000000000000000000000000000000000000"}) {
    auto ref = ImageRef::parse(text);
    CHECK(ImageRef::parse(ref.str()) == ref);
  }
}

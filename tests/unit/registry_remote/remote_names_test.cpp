#include <doctest/doctest.h>

#include "kiln/error.hpp"
#include "registry/remote_names.hpp"

using namespace kiln::registry_detail;

TEST_CASE("repository names: the distribution grammar, nothing that could change a URL") {
  for (const char* ok : {"a", "library/ubuntu", "a.b/c_d/e__f/g-h", "a--b", "x0/y1"}) {
    CAPTURE(ok);
    CHECK_NOTHROW(check_repository(ok));
  }
  for (const char* bad : {"", "A", "a/", "/a", "a//b", "a/../b", "a?b", "a#b", "a%2fb", "a b", "-a", "a-", "a___b",
                          "a..b"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(check_repository(bad), kiln::Error);
  }
  CHECK_THROWS_AS(check_repository(std::string(256, 'a')), kiln::Error);
}

TEST_CASE("references: tags and digests") {
  CHECK_NOTHROW(check_reference("latest"));
  CHECK_NOTHROW(check_reference("v1.2.3-rc_1"));
  CHECK_NOTHROW(check_reference("sha256:" + std::string(64, 'a')));
  CHECK_NOTHROW(check_reference(std::string(128, 'a')));
  for (const char* bad : {"", ".x", "-x", "a/b", "a?b", "a b", "sha256:abc", "md5:" }) {
    CAPTURE(bad);
    CHECK_THROWS_AS(check_reference(bad), kiln::Error);
  }
  CHECK_THROWS_AS(check_reference(std::string(129, 'a')), kiln::Error);
}

#include <doctest/doctest.h>

#include <vector>

#include "auth/base64.hpp"

using namespace kiln::auth;

TEST_CASE("base64 round trips and tolerates missing padding") {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:pa:ss", std::string("\0\xff\x10", 3)}) {
    CAPTURE(s);
    CHECK(base64_decode(base64_encode(s)) == s);
  }
  CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
  CHECK(base64_decode("dXNlcjpwYXM") == "user:pas");
  CHECK_FALSE(base64_decode("a").has_value());
  CHECK_FALSE(base64_decode("ab!c").has_value());
}

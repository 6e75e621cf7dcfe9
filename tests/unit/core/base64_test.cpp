#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/base64.hpp"

using kiln::core::base64_decode;
using kiln::core::base64_encode;

TEST_CASE("base64 round trips binary data of every length class") {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:pa:ss", std::string("\0\xff\x10", 3)}) {
    CAPTURE(s);
    CHECK(base64_decode(base64_encode(s)) == s);
  }
  CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
  CHECK(base64_encode("hello") == "aGVsbG8=");
  CHECK(base64_encode("hell") == "aGVsbA==");
}

TEST_CASE("base64 decoding tolerates what real producers emit") {
  CHECK(*base64_decode("aGVs\nbG8=") == "hello");       // kubeconfig line wrapping
  CHECK(*base64_decode(" aGVs\r\n bG8=\n") == "hello");
  CHECK(*base64_decode("aGVsbG8") == "hello");          // stripped padding
  CHECK(base64_decode("dXNlcjpwYXM") == "user:pas");
}

TEST_CASE("base64 decoding rejects malformed text") {
  CHECK_FALSE(base64_decode("a"));            // a lone final symbol holds no byte
  CHECK_FALSE(base64_decode("ab!c"));
  CHECK_FALSE(base64_decode("!!!!"));
  CHECK_FALSE(base64_decode("aGVsbG8=x"));    // data after padding
  CHECK_FALSE(base64_decode("aGVsbA==="));    // three '='
  CHECK_FALSE(base64_decode("aGVsbG8=="));    // padding beyond the quantum
}

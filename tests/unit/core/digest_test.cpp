#include <doctest/doctest.h>

#include "kiln/digest.hpp"
#include "kiln/error.hpp"

using kiln::Digest;

TEST_CASE("digest of known bytes") {
  CHECK(Digest::of("").str() == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Digest::of("abc", Digest::Algorithm::sha512).hex().substr(0, 16) == "ddaf35a193617aba");
}

TEST_CASE("incremental hashing equals one-shot hashing") {
  kiln::Hasher hasher;
  hasher.update("hello ");
  hasher.update("world");
  CHECK(hasher.finish() == Digest::of("hello world"));
  // finish() resets, so the hasher can be reused.
  hasher.update("x");
  CHECK(hasher.finish() == Digest::of("x"));
}

TEST_CASE("digest parsing validates algorithm, length and case") {
  std::string good = "sha256:" + std::string(64, 'a');
  CHECK(Digest::parse(good).str() == good);
  CHECK(Digest::is_valid("sha512:" + std::string(128, '0')));
  CHECK_FALSE(Digest::is_valid("sha256:" + std::string(63, 'a')));
  CHECK_FALSE(Digest::is_valid("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(Digest::is_valid("md5:" + std::string(32, 'a')));
  CHECK_FALSE(Digest::is_valid(std::string(64, 'a')));
  try {
    Digest::parse("sha256:abc");
    FAIL("expected an error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::invalid_argument);
    CHECK(std::string(e.what()).find("3 hex characters, expected 64") != std::string::npos);
  }
}

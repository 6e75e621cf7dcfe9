#include <doctest/doctest.h>

#include "auth/challenge.hpp"

using namespace kiln::auth;

TEST_CASE("WWW-Authenticate: a registry's Bearer challenge with insufficient_scope") {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope")");
  REQUIRE(c.size() == 1);
  CHECK(c[0].scheme == "bearer");
  CHECK(c[0].param("realm") == "https://auth.example/token");
  CHECK(c[0].param("service") == "registry.example");
  CHECK(c[0].param("scope") == "repository:a/b:pull,push");
  CHECK(c[0].param("error") == "insufficient_scope");
}

TEST_CASE("WWW-Authenticate: several challenges in one header, quoted commas and escapes") {
  auto c = parse_www_authenticate(
      R"(Basic realm="a, \"quoted\" realm", charset=UTF-8, Bearer realm="https://t/x",scope="repository:r:pull repository:s:pull", Negotiate abc==)");
  REQUIRE(c.size() == 3);
  CHECK(c[0].scheme == "basic");
  CHECK(c[0].param("realm") == R"(a, "quoted" realm)");
  CHECK(c[0].param("charset") == "UTF-8");
  CHECK(c[1].scheme == "bearer");
  CHECK(c[1].param("scope") == "repository:r:pull repository:s:pull");
  CHECK(c[2].scheme == "negotiate");
  CHECK(c[2].token68 == "abc==");
}

TEST_CASE("WWW-Authenticate: several headers, case, spacing, bare schemes") {
  auto c = parse_www_authenticate(std::vector<std::string>{"BASIC REALM = \"x\"", "Bearer", "  ,Bearer realm=r  "});
  REQUIRE(c.size() == 3);
  CHECK(c[0].scheme == "basic");
  CHECK(c[0].param("realm") == "x");
  CHECK(c[1].params.empty());
  CHECK(c[2].param("realm") == "r");
}

TEST_CASE("WWW-Authenticate: garbage never crashes and yields what can be read") {
  for (const char* s : {"", ",,,", "\"", "Bearer realm=\"unterminated", "=", "Bearer ===", "Bearer a=b=c, , =x",
                        "\x01\x02 Basic", "Bearer realm=\"x\\"}) {
    CAPTURE(s);
    CHECK_NOTHROW(parse_www_authenticate(s));
  }
  auto c = parse_www_authenticate("Bearer realm=\"unterminated");
  REQUIRE(c.size() == 1);
  CHECK(c[0].param("realm") == "unterminated");
}

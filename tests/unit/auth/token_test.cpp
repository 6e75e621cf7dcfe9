#include <doctest/doctest.h>

#include "auth/token.hpp"
#include "kiln/error.hpp"

using namespace kiln::auth;

TEST_CASE("token responses: token or access_token, expires_in with the 60 s floor") {
  auto a = parse_token_response(R"({"token":"t1","expires_in":300})", "realm");
  CHECK(a.token == "t1");
  CHECK(a.expires_in.count() == 300);
  auto b = parse_token_response(R"({"access_token":"t2","refresh_token":"r"})", "realm");
  CHECK(b.token == "t2");
  CHECK(b.expires_in.count() == 60);
  CHECK(b.refresh_token == "r");
  CHECK(parse_token_response(R"({"token":"t","expires_in":5})", "realm").expires_in.count() == 60);
  CHECK(parse_token_response(R"({"token":"t","expires_in":1e300})", "realm").expires_in.count() > 0);
  CHECK(parse_token_response(R"({"token":"","access_token":"t3"})", "realm").token == "t3");
}

TEST_CASE("token responses: malformed ones name the token server, never echo the body") {
  for (const char* body : {"", "[]", "{}", R"({"token":5})", R"({"token":"a\nb"})", "not json"}) {
    CAPTURE(body);
    try {
      parse_token_response(body, "https://auth.example/token");
      FAIL("accepted");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == kiln::Errc::protocol);
      CHECK(std::string(e.what()).find("https://auth.example/token") != std::string::npos);
    }
  }
}

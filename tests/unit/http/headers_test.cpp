#include <doctest/doctest.h>

#include "http/client.hpp"

using kiln::http::Headers;

TEST_CASE("Headers: case-insensitive names, several values, set replaces all") {
  Headers h;
  h.add("WWW-Authenticate", "Basic realm=x");
  h.add("www-authenticate", "Bearer realm=y");
  h.add("Content-Type", "a/b");
  CHECK(h.has("content-type"));
  CHECK(h.get("CONTENT-TYPE") == "a/b");
  CHECK(h.get_all("Www-Authenticate") == std::vector<std::string>{"Basic realm=x", "Bearer realm=y"});
  h.set("WWW-AUTHENTICATE", "only");
  CHECK(h.get_all("www-authenticate") == std::vector<std::string>{"only"});
  h.remove("content-TYPE");
  CHECK_FALSE(h.has("Content-Type"));
  CHECK_FALSE(h.get("missing").has_value());
  CHECK(kiln::http::iequals("Authorization", "aUTHORIZATION"));
  CHECK_FALSE(kiln::http::iequals("Authorization", "Authorizatio"));
}

#include <doctest/doctest.h>

#include "http/link_header.hpp"

using namespace kiln::http;

TEST_CASE("Link: the registry's pagination form") {
  auto links = parse_link_header(R"(</v2/_catalog?last=b&n=2>; rel="next")");
  REQUIRE(links.size() == 1);
  CHECK(links[0].target == "/v2/_catalog?last=b&n=2");
  CHECK(links[0].has_rel("next"));
  CHECK(next_link({R"(</v2/_catalog?last=b&n=2>; rel="next")"}) == "/v2/_catalog?last=b&n=2");
}

TEST_CASE("Link: several links, unquoted and multi-valued rel, parameters with commas") {
  auto links = parse_link_header(R"(<a>; rel=prev, <b>; title="x, y"; REL="last next", <c>;rel=first)");
  REQUIRE(links.size() == 3);
  CHECK(links[0].has_rel("prev"));
  CHECK(links[1].param("title") == "x, y");
  CHECK(links[1].has_rel("next"));
  CHECK(links[1].has_rel("last"));
  CHECK_FALSE(links[2].has_rel("next"));
  CHECK(next_link({"<a>; rel=prev", R"(<b>; rel="next")"}) == "b");
}

TEST_CASE("Link: malformed input is skipped, never a crash") {
  CHECK(parse_link_header("").empty());
  CHECK(parse_link_header("<unterminated").empty());
  CHECK(parse_link_header("garbage, <ok>; rel=next").size() == 1);
  CHECK_FALSE(next_link({"<x>; rel=\"nex"}).has_value());
  CHECK(parse_link_header(";;;,,,<>").size() == 1);
}

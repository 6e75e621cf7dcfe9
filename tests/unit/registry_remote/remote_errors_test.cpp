#include <doctest/doctest.h>

#include "registry/remote_errors.hpp"

using namespace kiln::registry_detail;
using kiln::Errc;

TEST_CASE("Distribution error bodies map to kiln error codes with the remote code kept") {
  kiln::http::Response r;
  r.status = 404;
  r.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})";
  auto e = response_error(r, "GET manifest a:x");
  CHECK(e.code() == Errc::not_found);
  CHECK(e.remote_code() == "MANIFEST_UNKNOWN");
  CHECK(e.http_status() == 404);
  std::string what = e.what();
  CHECK(what.find("GET manifest a:x: HTTP 404 MANIFEST_UNKNOWN: manifest unknown") == 0);
  CHECK(what.find("Tag") != std::string::npos);

  CHECK(errc_for("DENIED", 403) == Errc::forbidden);
  CHECK(errc_for("UNSUPPORTED", 405) == Errc::unsupported);
  CHECK(errc_for("DIGEST_INVALID", 400) == Errc::digest_mismatch);
  CHECK(errc_for("", 503) == Errc::server);
  CHECK(errc_for("", 429) == Errc::unavailable);
  CHECK(errc_for("", 401) == Errc::unauthorized);
  CHECK(errc_for("SOMETHING_NEW", 418) == Errc::protocol);
}

TEST_CASE("error bodies that are not Distribution errors still give a status-based error") {
  for (const char* body : {"", "<html>oops</html>", "{\"errors\":{}}", "{\"errors\":[1]}", "[]", "{\"errors\":[]}"}) {
    CAPTURE(body);
    auto info = parse_remote_error(body);
    CHECK(info.code.empty());
  }
  kiln::http::Response r;
  r.status = 502;
  r.body = "<html>bad gateway</html>";
  auto e = response_error(r, "x");
  CHECK(e.code() == Errc::server);
  CHECK(std::string(e.what()) == "x: HTTP 502");
}

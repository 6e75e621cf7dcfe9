#include <doctest/doctest.h>

#include "kiln/cancel.hpp"
#include "kiln/error.hpp"

TEST_CASE("errors carry code, status and remote code") {
  auto e = kiln::Error(kiln::Errc::not_found, "manifest unknown").with_http_status(404).with_remote_code("MANIFEST_UNKNOWN");
  CHECK(e.code() == kiln::Errc::not_found);
  CHECK(e.http_status() == 404);
  CHECK(e.remote_code() == "MANIFEST_UNKNOWN");
  CHECK(std::string(kiln::errc_name(e.code())) == "not_found");
}

TEST_CASE("cancel tokens are shared by copies") {
  kiln::CancelToken token;
  auto copy = token;
  CHECK_NOTHROW(copy.check());
  token.cancel();
  CHECK(copy.cancelled());
  CHECK_THROWS_AS(copy.check(), kiln::Error);
}

#include <doctest/doctest.h>

#include "http/client.hpp"
#include "http/url.hpp"
#include "kiln/error.hpp"

using namespace kiln::http;

TEST_CASE("resolve_url: relative, absolute and query-only Locations") {
  std::string base = "https://reg.example:5000/v2/a/blobs/uploads/?x=1";
  CHECK(resolve_url(base, "/v2/a/blobs/uploads/u1?_state=s") == "https://reg.example:5000/v2/a/blobs/uploads/u1?_state=s");
  CHECK(resolve_url(base, "u2") == "https://reg.example:5000/v2/a/blobs/uploads/u2");
  CHECK(resolve_url(base, "https://other.example/upload") == "https://other.example/upload");
  CHECK(resolve_url("http://h/v2/x/tags/list?n=2", "?n=2&last=b") == "http://h/v2/x/tags/list?n=2&last=b");
}

TEST_CASE("origins decide where credentials may go") {
  CHECK(same_origin("https://h/v2/", "https://h:443/other"));
  CHECK_FALSE(same_origin("https://h/v2/", "http://h/v2/"));
  CHECK_FALSE(same_origin("https://h/v2/", "https://h:5000/v2/"));
  CHECK_FALSE(same_origin("https://h/v2/", "https://h.evil/v2/"));
  CHECK_FALSE(same_origin("https://h/v2/", "not a url"));
  CHECK(url_authority("https://h:443/x") == "h");
  CHECK(url_authority("http://h:5000/x") == "h:5000");
}

TEST_CASE("append_query encodes and joins") {
  CHECK(append_query("https://h/p", "digest", "sha256:ab") == "https://h/p?digest=sha256%3Aab");
  CHECK(append_query("https://h/p?_state=x", "digest", "d") == "https://h/p?_state=x&digest=d");
  CHECK(url_encode("a b/c~") == "a%20b%2Fc~");
}

TEST_CASE("loopback detection does not trust names that merely start with 127.") {
  CHECK(is_loopback_host("127.0.0.1:5000"));
  CHECK(is_loopback_host("127.3.2.1"));
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("[::1]:5000"));
  CHECK_FALSE(is_loopback_host("127.evil.com"));
  CHECK_FALSE(is_loopback_host("registry.example:5000"));
  CHECK(split_host_port("[::1]:80") == std::pair<std::string, int>{"::1", 80});
  CHECK(split_host_port("h") == std::pair<std::string, int>{"h", 0});
}

TEST_CASE("Session refuses plain http except to loopback and insecure hosts") {
  SessionOptions o;
  o.insecure_hosts = {"reg.internal:5000", "other.internal"};
  Session s(o);
  CHECK_NOTHROW(s.check_url_policy("http://127.0.0.1:5000/v2/"));
  CHECK_NOTHROW(s.check_url_policy("http://reg.internal:5000/v2/"));
  CHECK_NOTHROW(s.check_url_policy("http://other.internal:1234/v2/"));
  CHECK_NOTHROW(s.check_url_policy("https://anything.example/v2/"));
  CHECK_THROWS_AS(s.check_url_policy("http://reg.internal:5001/v2/"), kiln::Error);
  CHECK_THROWS_AS(s.check_url_policy("http://public.example/v2/"), kiln::Error);
  CHECK_THROWS_AS(s.check_url_policy("ftp://127.0.0.1/x"), kiln::Error);
  SessionOptions strict;
  strict.allow_plain_http_loopback = false;
  CHECK_THROWS_AS(Session(strict).check_url_policy("http://127.0.0.1:5000/v2/"), kiln::Error);
}

TEST_CASE("Session: a refused URL fails before any connection, with a message naming the host") {
  Session s;
  Request r;
  r.url = "http://public.example:5000/v2/";
  try {
    s.perform(r);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::invalid_argument);
    CHECK(std::string(e.what()).find("public.example:5000") != std::string::npos);
  }
}

TEST_CASE("Session: a cancelled token stops the request before it starts") {
  Session s;
  Request r;
  r.url = "http://127.0.0.1:9/";
  r.cancel.cancel();
  try {
    s.perform(r);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::cancelled);
  }
}

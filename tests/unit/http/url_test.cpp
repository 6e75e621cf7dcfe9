#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <vector>

#include "http/client.hpp"
#include "http/route.hpp"
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

// ---- route.hpp: proxy URLs, TLS server name rewriting, NO_PROXY matching

TEST_CASE("parse_proxy_url: schemes, default ports, decoded credentials kept out of the display form") {
  auto p = parse_proxy_url("http://kiln%20user:p%40ss%2Fw@127.0.0.1:3128");
  CHECK(p.url == "http://127.0.0.1:3128");
  CHECK(p.display == "http://127.0.0.1:3128");
  CHECK(p.has_credentials);
  CHECK(p.user == "kiln user");
  CHECK(p.password == "p@ss/w");
  CHECK(parse_proxy_url("https://Proxy.Example").url == "https://proxy.example:443");
  CHECK(parse_proxy_url("http://proxy.example/").url == "http://proxy.example:80");
  CHECK_FALSE(parse_proxy_url("http://proxy.example:8080").has_credentials);
  // socks5 hands names to the proxy as Go does; socks5h is the same thing.
  CHECK(parse_proxy_url("socks5://127.0.0.1").url == "socks5h://127.0.0.1:1080");
  CHECK(parse_proxy_url("socks5://127.0.0.1").display == "socks5://127.0.0.1:1080");
  CHECK(parse_proxy_url("socks5h://[::1]:9050").url == "socks5h://[::1]:9050");
  CHECK(parse_proxy_url("http://user@h:1").has_credentials);
  CHECK(parse_proxy_url("http://user@h:1").password.empty());
}

TEST_CASE("parse_proxy_url: bad URLs are refused without their password") {
  for (const char* bad : {"ftp://u:pw-secret@h:21", "socks4://u:pw-secret@h", "http://u:pw-secret@h:3128/path",
                          "http://u:pw-secret@h:99999999", "u:pw-secret@h:3128", "http://u:pw-secret@h:1?x=1"}) {
    INFO(bad);
    try {
      parse_proxy_url(bad);
      FAIL("accepted");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == kiln::Errc::invalid_argument);
      CHECK(std::string(e.what()).find("pw-secret") == std::string::npos);
    }
    CHECK(redact_proxy_url(bad).find("pw-secret") == std::string::npos);
  }
  CHECK(redact_proxy_url("http://u:pw@h:3") == "http://h:3");
}

TEST_CASE("server_name_route: the URL's host becomes the name, CONNECT_TO and Host lead back to the real host") {
  auto r = server_name_route("https://127.0.0.1:6443/api/v1/pods?watch=1&x=a%20b", "kubernetes.default.svc");
  REQUIRE(r);
  CHECK(r->url == "https://kubernetes.default.svc:6443/api/v1/pods?watch=1&x=a%20b");
  CHECK(r->connect_to == "kubernetes.default.svc:6443:127.0.0.1:6443");
  CHECK(r->host_header == "Host: 127.0.0.1:6443");

  auto v6 = server_name_route("https://[::ffff:127.0.0.1]/x", "Kube.Example.");
  REQUIRE(v6);
  CHECK(v6->url == "https://kube.example/x");
  CHECK(v6->connect_to == "kube.example:443:[::ffff:127.0.0.1]:443");
  CHECK(v6->host_header == "Host: [::ffff:127.0.0.1]");

  auto ip = server_name_route("https://host.example:8443/", "::1");
  REQUIRE(ip);
  CHECK(ip->url == "https://[::1]:8443/");
  CHECK(ip->connect_to == "[::1]:8443:host.example:8443");

  CHECK_FALSE(server_name_route("https://h:1/", ""));
  CHECK_FALSE(server_name_route("http://127.0.0.1:8080/", "kubernetes"));  // no TLS, nothing to name
  CHECK_FALSE(server_name_route("https://KUBERNETES:1/", "kubernetes"));   // already the host
  CHECK_THROWS_AS(server_name_route("https://h/", "evil.example/path"), kiln::Error);
  CHECK_THROWS_AS(server_name_route("https://h/", "user@evil.example"), kiln::Error);
  CHECK_THROWS_AS(check_server_name("a..b"), kiln::Error);
  CHECK_THROWS_AS(check_server_name("-x"), kiln::Error);
  CHECK_NOTHROW(check_server_name("kubernetes.default.svc"));
  CHECK_NOTHROW(check_server_name("10.0.0.1"));
}

TEST_CASE("no_proxy_matches follows libcurl's rules") {
  CHECK(no_proxy_matches("anything.example", "*"));
  CHECK_FALSE(no_proxy_matches("anything.example", ""));
  CHECK_FALSE(no_proxy_matches("anything.example", "*.example"));  // only "*" alone is a wildcard
  CHECK(no_proxy_matches("example.com", "example.com"));
  CHECK(no_proxy_matches("www.example.com", "example.com"));
  CHECK(no_proxy_matches("www.example.com", ".example.com"));
  CHECK(no_proxy_matches("WWW.Example.COM.", "other, example.com."));
  CHECK_FALSE(no_proxy_matches("nonexample.com", "example.com"));
  CHECK_FALSE(no_proxy_matches("example.com", "www.example.com"));
  CHECK(no_proxy_matches("h", "a b\th"));  // blanks separate too
  CHECK(no_proxy_matches("10.1.2.3", "localhost,10.0.0.0/8"));
  CHECK_FALSE(no_proxy_matches("11.1.2.3", "10.0.0.0/8"));
  CHECK(no_proxy_matches("127.0.0.1", "127.0.0.1"));
  CHECK_FALSE(no_proxy_matches("127.0.0.2", "127.0.0.1"));
  CHECK_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.1/40"));
  CHECK(no_proxy_matches("::ffff:127.0.0.1", "::ffff:127.0.0.1"));
  CHECK(no_proxy_matches("[fd00::5]", "fd00::/8"));
  CHECK_FALSE(no_proxy_matches("fe80::1", "fd00::/8"));
  CHECK_FALSE(no_proxy_matches("10.0.0.1", "fd00::/8"));
}

TEST_CASE("environment_proxy: https_proxy/HTTPS_PROXY, all_proxy, never HTTP_PROXY, NO_PROXY for the given host") {
  auto save = [](const char* n) { const char* v = std::getenv(n); return v ? std::optional<std::string>(v) : std::nullopt; };
  const char* names[] = {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"};
  std::vector<std::optional<std::string>> saved;
  for (auto* n : names) saved.push_back(save(n)), unsetenv(n);
  CHECK(environment_proxy("https", "h") == "");
  setenv("HTTPS_PROXY", "http://upper:1", 1);
  CHECK(environment_proxy("https", "h") == "http://upper:1");
  setenv("https_proxy", "http://lower:1", 1);
  CHECK(environment_proxy("https", "h") == "http://lower:1");
  setenv("HTTP_PROXY", "http://never:1", 1);
  CHECK(environment_proxy("http", "h") == "");
  setenv("ALL_PROXY", "socks5://all:1", 1);
  CHECK(environment_proxy("http", "h") == "socks5://all:1");
  setenv("NO_PROXY", "h,.internal", 1);
  CHECK(environment_proxy("https", "h") == "");
  CHECK(environment_proxy("https", "x.internal") == "");
  CHECK(environment_proxy("https", "other") == "http://lower:1");
  for (std::size_t i = 0; i < saved.size(); ++i) {
    if (saved[i]) setenv(names[i], saved[i]->c_str(), 1);
    else unsetenv(names[i]);
  }
}

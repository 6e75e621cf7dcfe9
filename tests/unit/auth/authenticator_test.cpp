// What goes where, without a network: the Authenticator only ever adds the
// registry's Authorization to requests for the registry's own origin.
#include <doctest/doctest.h>

#include "auth/authenticator.hpp"
#include "core/base64.hpp"
#include "kiln/error.hpp"

using namespace kiln;

namespace {

http::Response challenge(const std::string& value) {
  http::Response r;
  r.status = 401;
  r.headers.add("WWW-Authenticate", value);
  return r;
}

http::Request request_to(const std::string& url) {
  http::Request r;
  r.url = url;
  r.headers.set("Authorization", "left over from elsewhere");
  return r;
}

}  // namespace

TEST_CASE("Basic: credentials go to the registry origin only") {
  http::Session session;
  auto store = static_credentials({{"reg.example", Credential{"u", "p", ""}}});
  auth::Authenticator a(session, "https://reg.example", "reg.example", store, false);
  auto before = request_to("https://reg.example/v2/x/manifests/latest");
  a.authorize(before, {}, {});
  CHECK_FALSE(before.headers.has("Authorization"));  // nothing known yet: nothing sent

  CHECK(a.on_unauthorized(challenge(R"(Basic realm="Registry Realm")"), {}, {}));
  auto same = request_to("https://reg.example:443/v2/x/blobs/uploads/");
  a.authorize(same, {}, {});
  CHECK(same.headers.get("Authorization") == "Basic " + kiln::core::base64_encode("u:p"));
  for (const char* url : {"https://storage.example/blob", "http://reg.example/v2/", "https://reg.example:5000/v2/",
                          "https://reg.example.evil/v2/"}) {
    CAPTURE(url);
    auto other = request_to(url);
    a.authorize(other, {}, {});
    CHECK_FALSE(other.headers.has("Authorization"));
  }
  // Rejected once: no second attempt with the same credentials.
  CHECK_FALSE(a.on_unauthorized(challenge(R"(Basic realm="Registry Realm")"), {}, {}));
}

TEST_CASE("Basic without credentials: nothing to retry with") {
  http::Session session;
  auth::Authenticator a(session, "https://reg.example", "reg.example", nullptr, false);
  CHECK_FALSE(a.on_unauthorized(challenge(R"(Basic realm="x")"), {}, {}));
  CHECK_FALSE(a.has_credentials({}));
}

TEST_CASE("Bearer: a plain-http realm is refused unless the registry is insecure") {
  http::Session session;
  auto store = static_credentials({{"reg.example", Credential{"u", "p", ""}}});
  auth::Authenticator a(session, "https://reg.example", "reg.example", store, false);
  try {
    a.on_unauthorized(challenge(R"(Bearer realm="http://auth.example/token",service="s")"),
                      {"repository:a:pull"}, {});
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::protocol);
    CHECK(std::string(e.what()).find("not https") != std::string::npos);
  }
  CHECK_THROWS_AS(a.learn(challenge(R"(Bearer realm="ftp://auth.example/token")")), Error);
  CHECK_THROWS_AS(a.learn(challenge(R"(Bearer service="no realm")")), Error);
  CHECK_EQ(a.token_fetches(), 0u);
}

TEST_CASE("no usable challenge: no retry") {
  http::Session session;
  auth::Authenticator a(session, "https://reg.example", "reg.example", nullptr, false);
  CHECK_FALSE(a.on_unauthorized(challenge("Negotiate abc=="), {}, {}));
  http::Response none;
  none.status = 401;
  CHECK_FALSE(a.on_unauthorized(none, {}, {}));
  CHECK(auth::repository_scope("a/b", "pull,push") == "repository:a/b:pull,push");
}

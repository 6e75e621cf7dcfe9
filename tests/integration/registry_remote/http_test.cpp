// The http layer (lib/http) against tests/testservers/http_behaviour.py:
// redirects and credentials, retries and bodies, resets, caps.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cstring>

#include "http/client.hpp"
#include "http/url.hpp"
#include "kiln/error.hpp"
#include "support.hpp"

using namespace nettest;
using namespace kiln::http;

namespace {

std::vector<boost::json::object> requests(const TestServer& server) {
  std::vector<boost::json::object> out;
  for (const auto& line : server.log_lines()) out.push_back(boost::json::parse(line).as_object());
  return out;
}

std::string field(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

SessionOptions fast() {
  SessionOptions o;
  o.retry_base_delay = std::chrono::milliseconds(10);
  return o;
}

// Can be read once only.
class OnceSource : public BodySource {
 public:
  explicit OnceSource(std::string data) : data_(std::move(data)) {}
  std::size_t read(char* buffer, std::size_t size) override {
    std::size_t n = std::min(size, data_.size() - pos_);
    std::memcpy(buffer, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t pos_ = 0;
};

}  // namespace

TEST_CASE("redirects: Authorization follows within the origin and is dropped for another host") {
  TestServer server("http_behaviour.py", {}, 2);
  Session session(fast());
  std::string base = "http://" + server.host();
  std::string other = "http://127.0.0.2:" + std::to_string(server.other_port());
  Request same;
  same.url = base + "/redirect/307?to=/ok";
  same.headers.set("Authorization", "Bearer secret-token");
  auto r1 = session.perform(same);
  CHECK(r1.status == 200);
  CHECK(r1.url == base + "/ok");
  Request cross;
  cross.url = base + "/redirect/302?to=" + url_encode(other + "/redirect/307?to=" + url_encode(base + "/ok"));
  cross.headers.set("Authorization", "Bearer secret-token");
  auto r2 = session.perform(cross);
  CHECK(r2.status == 200);
  int with_auth_elsewhere = 0, back_home_with_auth = 0, home_with_auth = 0;
  bool after_cross = false;
  for (const auto& e : requests(server)) {
    bool auth = !field(e, "authorization").empty();
    if (field(e, "listen") == "127.0.0.2") {
      after_cross = true;
      if (auth) ++with_auth_elsewhere;
    } else if (after_cross) {
      if (auth) ++back_home_with_auth;  // once dropped, never restored
    } else if (auth) {
      ++home_with_auth;
    }
  }
  CHECK(home_with_auth == 3);  // same: 2 requests, cross: the first one
  CHECK(with_auth_elsewhere == 0);
  CHECK(back_home_with_auth == 0);
}

TEST_CASE("redirects: 303 turns a POST into a GET without body; loops end with an error") {
  TestServer server("http_behaviour.py", {}, 2);
  Session session(fast());
  Request post;
  post.method = "POST";
  post.url = "http://" + server.host() + "/redirect/303?to=/ok";
  post.body = "form=data";
  CHECK(session.perform(post).status == 200);
  auto log = requests(server);
  REQUIRE(log.size() == 2);
  CHECK(field(log[1], "method") == "GET");
  CHECK(log[1].at("body_length").as_int64() == 0);
  Request loop;
  loop.url = "http://" + server.host() + "/loop";
  loop.max_redirects = 3;
  try {
    session.perform(loop);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::protocol);
  }
  // A redirect to a plain-http host that is neither loopback nor insecure is refused.
  Request out;
  out.url = "http://" + server.host() + "/redirect/302?to=" + url_encode("http://registry.invalid/x");
  CHECK_THROWS_AS(session.perform(out), kiln::Error);
}

TEST_CASE("retries: retryable statuses are retried with the body sent again; a one-shot body is not") {
  TestServer server("http_behaviour.py", {}, 2);
  Session session(fast());
  Request put;
  put.method = "PUT";
  put.url = "http://" + server.host() + "/fail/503/2/a";
  put.body = std::string(1000, 'b');
  auto r = session.perform(put);
  CHECK(r.status == 200);
  CHECK(r.attempts == 3);
  for (const auto& e : requests(server)) CHECK(e.at("body_length").as_int64() == 1000);

  OnceSource once(std::string(1000, 'c'));
  Request stream;
  stream.method = "PUT";
  stream.url = "http://" + server.host() + "/fail/503/1/b";
  stream.body_source = &once;
  stream.body_size = 1000;
  auto r2 = session.perform(stream);
  CHECK(r2.status == 503);  // returned as is: the body cannot be sent twice
  CHECK(r2.attempts == 1);

  Request no_retry;
  no_retry.url = "http://" + server.host() + "/fail/500/1/c";
  no_retry.retry = false;
  CHECK(session.perform(no_retry).status == 500);
  Request give_up;
  give_up.url = "http://" + server.host() + "/fail/502/100/d";
  auto r3 = session.perform(give_up);
  CHECK(r3.status == 502);
  CHECK(r3.attempts == 1 + session.options().max_retries);
  Request not_retryable;
  not_retryable.url = "http://" + server.host() + "/fail/501/1/e";
  CHECK(session.perform(not_retryable).status == 501);
}

TEST_CASE("a connection reset before any response byte is retried") {
  TestServer server("http_behaviour.py", {}, 2);
  Session session(fast());
  Request get;
  get.url = "http://" + server.host() + "/reset/2/a";
  auto r = session.perform(get);
  CHECK(r.status == 200);
  CHECK(r.attempts == 3);
  Request once;
  once.url = "http://" + server.host() + "/reset/100/b";
  once.retry = false;
  try {
    session.perform(once);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::network);
  }
}

TEST_CASE("string bodies are capped; sinks receive 2xx bodies only") {
  TestServer server("http_behaviour.py", {}, 2);
  Session session(fast());
  Request big;
  big.url = "http://" + server.host() + "/big/100000";
  big.max_body = 1000;
  try {
    session.perform(big);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::too_large);
  }
  std::size_t sunk = 0;
  Request streamed;
  streamed.url = "http://" + server.host() + "/big/100000";
  streamed.max_body = 1000;
  streamed.sink = [&](const char*, std::size_t n) { sunk += n; };
  auto r = session.perform(streamed);
  CHECK(sunk == 100000);
  CHECK(r.sink_bytes == 100000);
  CHECK(r.body.empty());
  Request failing;
  failing.url = "http://" + server.host() + "/fail/404/1/x";
  failing.sink = [&](const char*, std::size_t) { FAIL("an error body reached the sink"); };
  auto r2 = session.perform(failing);
  CHECK(r2.status == 404);
  CHECK(r2.body.find("UNAVAILABLE") != std::string::npos);
}

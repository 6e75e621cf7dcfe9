// Status errors, selectors, paths, the watch-line parser, channel status.
#include <doctest/doctest.h>

#include "kiln/kube.hpp"
#include "kube/channel.hpp"
#include "kube/lines.hpp"
#include "kube/status.hpp"

using kiln::Errc;
using namespace kiln::kube;

TEST_CASE("Status objects become typed errors") {
  auto e = status_error(404, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404})",
                        "GET /api/v1/namespaces/default/pods/x");
  CHECK(e.code() == Errc::not_found);
  CHECK(e.http_status() == 404);
  CHECK(e.remote_code() == "NotFound");
  CHECK(std::string(e.what()) == "GET /api/v1/namespaces/default/pods/x: pods \"x\" not found");

  CHECK(status_error(409, R"({"kind":"Status","status":"Failure","reason":"AlreadyExists","message":"exists","code":409})", "POST").code() == Errc::conflict);
  CHECK(status_error(409, R"({"kind":"Status","status":"Failure","reason":"Conflict","message":"modified","code":409})", "PUT").code() == Errc::conflict);
  CHECK(status_error(403, R"({"kind":"Status","status":"Failure","reason":"Forbidden","message":"no","code":403})", "GET").code() == Errc::forbidden);
  CHECK(status_error(401, R"({"kind":"Status","status":"Failure","reason":"Unauthorized","message":"Unauthorized","code":401})", "GET").code() == Errc::unauthorized);
  auto gone = status_error(410, R"({"kind":"Status","status":"Failure","reason":"Expired","message":"too old resource version","code":410})", "GET");
  CHECK(gone.code() == Errc::conflict);
  CHECK(gone.remote_code() == "Expired");
  CHECK(status_error(429, R"({"kind":"Status","status":"Failure","reason":"TooManyRequests","message":"slow down","code":429})", "GET").code() == Errc::unavailable);

  auto invalid = status_error(422, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"Pod \"p\" is invalid","reason":"Invalid","details":{"name":"p","kind":"Pod","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"},{"reason":"FieldValueInvalid","message":"Invalid value: \"A\"","field":"metadata.name"}]},"code":422})",
                              "POST /api/v1/namespaces/default/pods");
  CHECK(invalid.code() == Errc::invalid_argument);
  CHECK(invalid.remote_code() == "Invalid");
  std::string text = invalid.what();
  CHECK(text.find("spec.containers[0].image: Required value") != std::string::npos);
  CHECK(text.find("metadata.name: Invalid value") != std::string::npos);

  auto html = status_error(502, "<html>\x01<body>Bad gateway</body></html>", "GET /api");
  CHECK(html.code() == Errc::server);
  CHECK(std::string(html.what()).find("HTTP 502") != std::string::npos);
  CHECK(std::string(html.what()).find('\x01') == std::string::npos);
}

TEST_CASE("label and field selectors") {
  LabelSelector s;
  s.equals("app", "kiln").not_equals("tier", "db").in("env", {"a", "b"}).not_in("zone", {"z1"}).exists("kiln.dev/build").not_exists("old");
  CHECK(s.str() == "app=kiln,tier!=db,env in (a,b),zone notin (z1),kiln.dev/build,!old");
  CHECK_THROWS_AS(LabelSelector().equals("bad key", "x"), kiln::Error);
  CHECK_THROWS_AS(LabelSelector().equals("app", "a,b"), kiln::Error);
  CHECK_THROWS_AS(LabelSelector().in("app", {}), kiln::Error);
  CHECK_THROWS_AS(LabelSelector().exists("-x"), kiln::Error);
  CHECK(LabelSelector().equals("app", "").str() == "app=");
  FieldSelector f;
  f.equals("metadata.name", "a,b=c\\").not_equals("status.phase", "Running");
  CHECK(f.str() == "metadata.name=a\\,b\\=c\\\\,status.phase!=Running");
  CHECK_THROWS_AS(FieldSelector().equals("metadata name", "x"), kiln::Error);
}

TEST_CASE("resource and proxy paths") {
  CHECK(resources::pods.path("ns", "p") == "/api/v1/namespaces/ns/pods/p");
  CHECK(resources::deployments.path("ns") == "/apis/apps/v1/namespaces/ns/deployments");
  CHECK(resources::namespaces.path("ignored", "kiln") == "/api/v1/namespaces/kiln");
  CHECK(resources::pods.path("", "") == "/api/v1/pods");
  CHECK_THROWS_AS(resources::pods.path("ns", "../secrets"), kiln::Error);
  CHECK_THROWS_AS(resources::pods.path("a/b", "p"), kiln::Error);
  CHECK(builtin_resource("batch/v1", "Job")->plural == "jobs");
  CHECK_FALSE(builtin_resource("example.com/v1", "Widget"));

  CHECK(service_proxy_path("kiln-system", "registry", "5000", "http") ==
        "/api/v1/namespaces/kiln-system/services/http:registry:5000/proxy");
  CHECK(service_proxy_path("default", "web") == "/api/v1/namespaces/default/services/web/proxy");
  CHECK(pod_proxy_path("default", "p", "8080") == "/api/v1/namespaces/default/pods/p:8080/proxy");
  CHECK_THROWS_AS(service_proxy_path("default", "web", "80", "ftp"), kiln::Error);
  CHECK_THROWS_AS(service_proxy_path("default", "web", "80/x"), kiln::Error);

  const std::string proxy = "/api/v1/namespaces/k/services/http:registry:5000/proxy";
  CHECK(rewrite_proxy_location("/v2/x/blobs/uploads/abc?_state=1", proxy) == proxy + "/v2/x/blobs/uploads/abc?_state=1");
  CHECK(rewrite_proxy_location("http://registry.k.svc:5000/v2/x/blobs/uploads/abc", proxy) == proxy + "/v2/x/blobs/uploads/abc");
  CHECK(rewrite_proxy_location(proxy + "/v2/", proxy) == proxy + "/v2/");
  CHECK(rewrite_proxy_location("relative/path", proxy) == "relative/path");
}

TEST_CASE("lines are split with a cap") {
  LineSplitter lines(16, "watch pods");
  std::vector<std::string> got;
  auto collect = [&](std::string_view l) { got.emplace_back(l); };
  lines.feed("ab", collect);
  lines.feed("c\r\nd\n\nef", collect);
  CHECK(got == std::vector<std::string>{"abc", "d", ""});
  CHECK(lines.pending() == "ef");
  try {
    lines.feed(std::string(20, 'x'), collect);
    FAIL("no cap");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::too_large);
    CHECK(std::string(e.what()).find("watch pods") != std::string::npos);
  }
}

TEST_CASE("watch events") {
  auto e = parse_watch_event(R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"p","resourceVersion":"7"}}})", "w");
  CHECK(e.type == "ADDED");
  CHECK(e.object.at("kind").as_string() == "Pod");
  CHECK(parse_watch_event(R"({"type":"ERROR","object":{"kind":"Status","code":410}})", "w").type == "ERROR");
  for (const char* bad : {"{", "[]", R"({"type":"ADDED"})", R"({"object":{}})", R"({"type":"EXPLODED","object":{}})",
                          R"({"type":"ADDED","object":"x"})"}) {
    try {
      parse_watch_event(bad, "watch pods");
      FAIL("accepted " << bad);
    } catch (const kiln::Error& err) {
      CHECK(err.code() == Errc::protocol);
    }
  }
}

TEST_CASE("exec status channel") {
  CHECK(exec_exit_code(R"({"metadata":{},"status":"Success"})", "exec") == 0);
  CHECK(exec_exit_code(R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 7], exit code 7","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}})", "exec") == 7);
  try {
    exec_exit_code(R"({"status":"Failure","message":"exec: \"nope\": executable file not found in $PATH","reason":"InternalError","code":500})", "exec in pod p");
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(std::string(e.what()).find("executable file not found") != std::string::npos);
  }
  CHECK_THROWS_AS(exec_exit_code("garbage", "exec"), kiln::Error);
  CHECK_THROWS_AS(exec_exit_code(R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}})", "exec"), kiln::Error);
}

TEST_CASE("UTF-8 sanitising") {
  CHECK(sanitize_utf8("plain") == "plain");
  CHECK(sanitize_utf8("h\xc3\xa9") == "h\xc3\xa9");
  CHECK(sanitize_utf8("a\xff" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(sanitize_utf8("\xc0\xaf") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
}

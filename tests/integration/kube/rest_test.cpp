// REST against the test cluster: CRUD, paging, apply, patch, errors, auth kinds.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "support.hpp"

using namespace kiln::kube;
using kiln::Errc;
using kubetest::client;
using kubetest::json_object;
using kubetest::ns;

namespace {

Object configmap(const std::string& name, const std::string& value, const std::string& label = "rest") {
  return json_object(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                     R"(","labels":{"kiln-it":")" + label + R"("}},"data":{"k":")" + value + R"("}})");
}

template <typename F>
kiln::Error error_of(F&& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e;
  }
  FAIL("no error thrown");
  return kiln::Error(Errc::ok, "");
}

std::string data_k(const Object& o) { return std::string(o.at("data").at("k").as_string()); }

}  // namespace

TEST_CASE("raw requests and discovery") {
  auto version = client().request("GET", "/version");
  CHECK(version.status == 200);
  CHECK(boost::json::parse(version.body).as_object().contains("gitVersion"));
  auto endpoints = client().resource_for("v1", "Endpoints");  // not built in: asks discovery
  CHECK(endpoints.plural == "endpoints");
  CHECK(endpoints.namespaced);
  auto err = error_of([] { client().resource_for("example.com/v1", "Widget"); });
  CHECK(err.code() == Errc::not_found);
}

TEST_CASE("create, get, replace, merge patch, delete") {
  auto name = kubetest::unique("cm");
  auto created = client().create(resources::configmaps, configmap(name, "one"), ns());
  CHECK(std::string(created.at("metadata").at("name").as_string()) == name);
  auto got = client().get(resources::configmaps, name, ns());
  CHECK(data_k(got) == "one");

  // Replace with the current resourceVersion succeeds; with a stale one it conflicts.
  auto stale = got;
  got["data"].as_object()["k"] = "two";
  auto replaced = client().replace(resources::configmaps, got, ns());
  CHECK(data_k(replaced) == "two");
  stale["data"].as_object()["k"] = "stale";
  auto conflict = error_of([&] { client().replace(resources::configmaps, stale, ns()); });
  CHECK(conflict.code() == Errc::conflict);
  CHECK(conflict.remote_code() == "Conflict");
  CHECK(conflict.http_status() == 409);

  auto patched = client().merge_patch(resources::configmaps, name, json_object(R"({"data":{"extra":"x"}})"), ns());
  CHECK(data_k(patched) == "two");
  CHECK(patched.at("data").at("extra").as_string() == "x");

  auto dup = error_of([&] { client().create(resources::configmaps, configmap(name, "again"), ns()); });
  CHECK(dup.code() == Errc::conflict);
  CHECK(dup.remote_code() == "AlreadyExists");

  CHECK(client().remove(resources::configmaps, name, {}, ns()));
  auto missing = error_of([&] { client().get(resources::configmaps, name, ns()); });
  CHECK(missing.code() == Errc::not_found);
  CHECK(missing.remote_code() == "NotFound");
  CHECK(std::string(missing.what()).find(name) != std::string::npos);
  CHECK_FALSE(client().find(resources::configmaps, name, ns()));
  DeleteOptions ignore;
  ignore.ignore_not_found = true;
  CHECK_FALSE(client().remove(resources::configmaps, name, ignore, ns()));
  CHECK(error_of([&] { client().remove(resources::configmaps, name, {}, ns()); }).code() == Errc::not_found);
}

TEST_CASE("list with selectors and paging") {
  auto label = kubetest::unique("page");
  for (int i = 0; i < 5; ++i) client().create(resources::configmaps, configmap(label + "-" + std::to_string(i), "v", label), ns());
  client().create(resources::configmaps, configmap(label + "-other", "v", "other"), ns());
  ListOptions options;
  options.namespace_name = ns();
  options.label_selector = LabelSelector().equals("kiln-it", label).str();
  options.limit = 2;
  auto first = client().list(resources::configmaps, options);
  CHECK(first.items.size() == 2);
  CHECK_FALSE(first.continue_token.empty());
  auto all = client().list_all(resources::configmaps, options);
  CHECK(all.items.size() == 5);
  CHECK_FALSE(all.resource_version.empty());
  options.label_selector = LabelSelector().in("kiln-it", {label, "other"}).str();
  options.field_selector = FieldSelector().not_equals("metadata.name", label + "-0").str();
  options.limit = 0;
  CHECK(client().list_all(resources::configmaps, options).items.size() == 5);
}

TEST_CASE("server-side apply creates, updates and is strict about fields") {
  auto name = kubetest::unique("applied");
  auto first = client().apply(configmap(name, "a"), {}, ns());
  CHECK(data_k(first) == "a");
  auto second = client().apply(configmap(name, "b"), {}, ns());
  CHECK(data_k(second) == "b");
  bool kiln_manager = false;
  for (const auto& entry : second.at("metadata").at("managedFields").as_array())
    kiln_manager = kiln_manager || entry.at("manager").as_string() == "kiln";
  CHECK(kiln_manager);

  auto bogus = configmap(name, "c");
  bogus["bogusField"] = 1;
  auto strict = error_of([&] { client().apply(bogus, {}, ns()); });
  CHECK(strict.code() == Errc::invalid_argument);
  CHECK(std::string(strict.what()).find("bogusField") != std::string::npos);

  auto no_kind = configmap(name, "c");
  no_kind.erase("kind");
  CHECK(error_of([&] { client().apply(no_kind, {}, ns()); }).code() == Errc::invalid_argument);

  // A deployment: apps/v1 through the same call.
  auto deployment = json_object(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
                                R"("},"spec":{"replicas":0,"selector":{"matchLabels":{"app":")" + name +
                                R"("}},"template":{"metadata":{"labels":{"app":")" + name +
                                R"("}},"spec":{"containers":[{"name":"c","image":"kiln-test/busybox:latest"}]}}}})");
  auto applied = client().apply(deployment, {}, ns());
  CHECK(applied.at("kind").as_string() == "Deployment");
  DeleteOptions foreground;
  foreground.propagation_policy = "Foreground";
  foreground.grace_period_seconds = 0;
  CHECK(client().remove(resources::deployments, name, foreground, ns()));
}

TEST_CASE("Invalid objects give the field causes") {
  auto bad = configmap("Not_A_Valid_Name", "x");
  auto e = error_of([&] { client().create(resources::configmaps, bad, ns()); });
  CHECK(e.code() == Errc::invalid_argument);
  CHECK(e.remote_code() == "Invalid");
  CHECK(e.http_status() == 422);
  CHECK(std::string(e.what()).find("metadata.name") != std::string::npos);

  auto pod = kubetest::pod("p", "true");
  pod["spec"].as_object()["containers"].as_array()[0].as_object().erase("image");
  auto missing_image = error_of([&] { client().create(resources::pods, pod, ns()); });
  CHECK(missing_image.code() == Errc::invalid_argument);
  CHECK(std::string(missing_image.what()).find("spec.containers[0].image") != std::string::npos);
}

TEST_CASE("429 and 500 answers are retried") {
  auto name = kubetest::unique("retry");
  client().create(resources::configmaps, configmap(name, "r"), ns());
  kubetest::fault(R"({"action":"fail-requests","code":429,"count":2,"retryAfter":1,"pathContains":")" + name + R"("})");
  CHECK(data_k(client().get(resources::configmaps, name, ns())) == "r");
  kubetest::fault(R"({"action":"fail-requests","code":500,"count":1,"pathContains":")" + name + R"("})");
  CHECK(data_k(client().get(resources::configmaps, name, ns())) == "r");
  // More failures than retries: the typed error comes through.
  kubetest::fault(R"({"action":"fail-requests","code":429,"count":20,"retryAfter":0,"pathContains":")" + name + R"("})");
  ClientOptions few;
  few.max_retries = 1;
  Client impatient(kubetest::config(), few);
  auto e = error_of([&] { impatient.get(resources::configmaps, name, ns()); });
  CHECK(e.code() == Errc::unavailable);
  CHECK(e.remote_code() == "TooManyRequests");
  kubetest::fault(R"({"action":"reset"})");
}

TEST_CASE("bearer token context, wrong token, unreachable server") {
  Client token_client(kubetest::config("kiln-test-token"));
  CHECK(token_client.config().token.size() > 0);
  CHECK(token_client.get(resources::namespaces, ns()).at("metadata").at("name").as_string() == ns());

  auto wrong = kubetest::config("kiln-test-token");
  wrong.token = "not-a-valid-token";
  Client wrong_client(wrong);
  auto e = error_of([&] { wrong_client.get(resources::namespaces, ns()); });
  CHECK(e.code() == Errc::unauthorized);
  CHECK(std::string(e.what()).find("not-a-valid-token") == std::string::npos);

  auto nowhere = kubetest::config();
  nowhere.server = "https://127.0.0.1:1";
  ClientOptions quick;
  quick.max_retries = 0;
  Client unreachable(nowhere, quick);
  auto n = error_of([&] { unreachable.get(resources::namespaces, "default"); });
  CHECK(n.code() == Errc::network);

  auto untrusted = kubetest::config();
  untrusted.ca_data.clear();
  untrusted.ca_file.clear();
  Client no_ca(untrusted, quick);
  CHECK(error_of([&] { no_ca.get(resources::namespaces, "default"); }).code() == Errc::network);
}

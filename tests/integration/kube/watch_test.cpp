// Watch: events in order, surviving dropped connections, relisting after
// 410 Gone, malformed and endless streams, deadlines and cancellation.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>

#include "support.hpp"

using namespace kiln::kube;
using kiln::Errc;
using kubetest::client;
using kubetest::json_object;
using kubetest::ns;

namespace {

Object configmap(const std::string& name, const std::string& label) {
  return json_object(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                     R"(","labels":{"kiln-watch":")" + label + R"("}},"data":{"k":"v"}})");
}

std::string name_of(const WatchEvent& e) { return std::string(e.object.at("metadata").at("name").as_string()); }

WatchOptions options_for(const std::string& label) {
  WatchOptions o;
  o.namespace_name = ns();
  o.label_selector = "kiln-watch=" + label;
  o.deadline = std::chrono::seconds(120);
  return o;
}

}  // namespace

TEST_CASE("watch lists first, then delivers changes in order") {
  auto label = kubetest::unique("w");
  client().create(resources::configmaps, configmap(label + "-pre", label), ns());
  std::vector<std::string> seen;
  std::thread writer;
  auto result = client().watch(resources::configmaps, options_for(label), [&](const WatchEvent& e) {
    if (e.type == "BOOKMARK") return true;
    seen.push_back(e.type + " " + name_of(e));
    if (seen.size() == 1) {
      writer = std::thread([label] {
        client().create(resources::configmaps, configmap(label + "-new", label), ns());
        client().merge_patch(resources::configmaps, label + "-new", json_object(R"({"data":{"k":"changed"}})"), ns());
        client().remove(resources::configmaps, label + "-new", {}, ns());
      });
    }
    return !(e.type == "DELETED");
  });
  writer.join();
  CHECK(seen == std::vector<std::string>{"ADDED " + label + "-pre", "ADDED " + label + "-new", "MODIFIED " + label + "-new",
                                         "DELETED " + label + "-new"});
  CHECK_FALSE(result.resource_version.empty());
}

TEST_CASE("a watch survives dropped connections") {
  auto label = kubetest::unique("drop");
  client().create(resources::configmaps, configmap(label + "-pre", label), ns());
  std::thread saboteur;
  std::atomic<bool> streaming{false};
  bool saw_after = false;
  auto result = client().watch(resources::configmaps, options_for(label), [&](const WatchEvent& e) {
    if (e.type == "ADDED" && name_of(e) == label + "-pre" && !saboteur.joinable()) {
      saboteur = std::thread([label, &streaming] {
        // An event that arrives over the stream first: the drop then cuts a
        // stream that has delivered data (which the HTTP layer must not
        // retry by itself; the watch resumes from its last version).
        client().create(resources::configmaps, configmap(label + "-mid", label), ns());
        while (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        kubetest::fault(R"({"action":"drop-watches"})");
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        client().create(resources::configmaps, configmap(label + "-after", label), ns());
      });
    }
    if (e.type == "ADDED" && name_of(e) == label + "-mid") streaming = true;
    if (e.type == "ADDED" && name_of(e) == label + "-after") {
      saw_after = true;
      return false;
    }
    return true;
  });
  saboteur.join();
  CHECK(saw_after);
  CHECK(result.reconnects >= 1);
}

TEST_CASE("410 Gone: relist, then keep watching from the list") {
  auto label = kubetest::unique("gone");
  client().create(resources::configmaps, configmap(label + "-a", label), ns());
  ListOptions lo;
  lo.namespace_name = ns();
  auto old_version = client().list(resources::configmaps, lo).resource_version;
  client().create(resources::configmaps, configmap(label + "-b", label), ns());
  client().remove(resources::configmaps, label + "-a", {}, ns());
  kubetest::fault(R"({"action":"compact"})");

  auto options = options_for(label);
  options.resource_version = old_version;  // now too old: HTTP 410
  std::vector<std::string> seen;
  std::thread writer;
  auto result = client().watch(resources::configmaps, options, [&](const WatchEvent& e) {
    if (e.type == "BOOKMARK") return true;
    seen.push_back(e.type + " " + name_of(e));
    if (seen.size() == 1) {
      writer = std::thread([label] { client().create(resources::configmaps, configmap(label + "-c", label), ns()); });
    }
    return name_of(e) != label + "-c";
  });
  writer.join();
  CHECK(result.relists == 1);
  CHECK(seen == std::vector<std::string>{"ADDED " + label + "-b", "ADDED " + label + "-c"});
}

TEST_CASE("a malformed watch stream is a clear protocol error") {
  kubetest::fault(R"({"action":"bad-watch","mode":"garbage","count":1})");
  auto options = options_for(kubetest::unique("garbage"));
  options.max_reconnect_failures = 0;
  try {
    client().watch(resources::configmaps, options, [](const WatchEvent&) { return true; });
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::protocol);
    CHECK(std::string(e.what()).find("watch configmaps") != std::string::npos);
  }
}

TEST_CASE("an endless line costs bounded memory and ends in a clear error") {
  kubetest::fault(R"({"action":"bad-watch","mode":"endless","count":1})");
  ClientOptions capped;
  capped.max_line_bytes = 1 << 20;
  Client limited(kubetest::config(), capped);
  try {
    limited.watch(resources::configmaps, options_for(kubetest::unique("endless")), [](const WatchEvent&) { return true; });
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::too_large);
    CHECK(std::string(e.what()).find("1048576") != std::string::npos);
  }
}

TEST_CASE("watch deadline and cancellation") {
  auto options = options_for(kubetest::unique("quiet"));
  options.deadline = std::chrono::milliseconds(1500);
  try {
    client().watch(resources::configmaps, options, [](const WatchEvent&) { return true; });
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::timeout);
  }
  kiln::CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cancel.cancel();
  });
  options.deadline = std::chrono::milliseconds(0);
  try {
    client().watch(resources::configmaps, options, [](const WatchEvent&) { return true; }, cancel);
    FAIL("no error");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::cancelled);
  }
  canceller.join();
}

TEST_CASE("changes missed while disconnected past a 410 are delivered by the relist, deletions included") {
  auto label = kubetest::unique("missed");
  client().create(resources::configmaps, configmap(label + "-pre", label), ns());
  auto options = options_for(label);
  options.all_namespaces = true;  // the watch path /api/v1/configmaps differs from the object paths
  std::thread saboteur;
  std::atomic<bool> streaming{false};
  bool deleted_pre = false, added_post = false;
  auto result = client().watch(resources::configmaps, options, [&](const WatchEvent& e) {
    if (e.type == "ADDED" && name_of(e) == label + "-pre" && !saboteur.joinable()) {
      saboteur = std::thread([label, &streaming] {
        client().create(resources::configmaps, configmap(label + "-mid", label), ns());
        while (!streaming) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        // Keep the watch out while the changes happen and history is lost.
        kubetest::fault(R"({"action":"fail-requests","code":500,"count":100000,"pathContains":"/api/v1/configmaps"})");
        kubetest::fault(R"({"action":"drop-watches"})");
        client().remove(resources::configmaps, label + "-pre", {}, ns());
        client().create(resources::configmaps, configmap(label + "-post", label), ns());
        kubetest::fault(R"({"action":"compact"})");
        kubetest::fault(R"({"action":"reset"})");
      });
    }
    if (e.type == "ADDED" && name_of(e) == label + "-mid") streaming = true;
    if (e.type == "DELETED" && name_of(e) == label + "-pre") deleted_pre = true;
    if (e.type == "ADDED" && name_of(e) == label + "-post") added_post = true;
    return !(deleted_pre && added_post);
  });
  saboteur.join();
  CHECK(deleted_pre);
  CHECK(added_post);
  CHECK(result.relists >= 1);
  CHECK(result.reconnects >= 1);
}

// Watch with resumption (dropped connections, server timeouts), relist after
// 410 Gone, and the wait helpers built on it.
#include <map>
#include <thread>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "kube/client_impl.hpp"
#include "kube/lines.hpp"
#include "kube/resources.hpp"
#include "kube/status.hpp"

namespace kiln::kube {

namespace {

struct StopWatch {};  // the handler asked to stop
struct WatchGone {};  // 410: the version is too old

std::string key_of(const Object& o) { return object_namespace(o) + "/" + object_name(o); }

std::int64_t json_int(const boost::json::value& v, std::initializer_list<std::string_view> path, std::int64_t fallback) {
  const boost::json::value* cur = &v;
  for (auto key : path) {
    if (!cur->is_object()) return fallback;
    auto it = cur->get_object().find(key);
    if (it == cur->get_object().end()) return fallback;
    cur = &it->value();
  }
  return cur->is_int64() ? cur->get_int64() : cur->is_uint64() ? static_cast<std::int64_t>(cur->get_uint64()) : fallback;
}

std::string with_query(std::string path, std::string_view key, std::string_view value) {
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += std::string(key) + "=" + query_escape(value);
  return path;
}

void sleep_cancellable(std::chrono::milliseconds delay, const CancelToken& cancel) {
  auto until = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < until) {
    cancel.check();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

WatchResult Client::watch(const Resource& resource, const WatchOptions& options, const WatchHandler& handler,
                          const CancelToken& cancel) {
  if (!handler) throw Error(Errc::invalid_argument, "watch needs a handler");
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const bool has_deadline = options.deadline.count() > 0;
  const auto deadline = start + options.deadline;
  const std::string ns = options.all_namespaces ? std::string() : impl_->ns(options.namespace_name);
  const std::string what = fmt::format("watch {}{}", resource.plural, ns.empty() ? "" : " in namespace " + ns);

  WatchResult result;
  std::map<std::string, Object> known;  // what the handler has been told exists

  auto deliver = [&](WatchEvent event) {
    if (event.type == "DELETED") known.erase(key_of(event.object));
    else if (event.type != "BOOKMARK") known[key_of(event.object)] = event.object;
    if (!handler(event)) throw StopWatch{};
  };

  // List, then tell the handler what changed since what it knows.
  auto relist = [&] {
    ListOptions lo;
    lo.namespace_name = options.namespace_name;
    lo.all_namespaces = options.all_namespaces;
    lo.label_selector = options.label_selector;
    lo.field_selector = options.field_selector;
    auto list = list_all(resource, lo, cancel);
    std::map<std::string, Object> fresh;
    for (auto& item : list.items) fresh.emplace(key_of(item), std::move(item));
    std::vector<Object> gone;
    for (const auto& [key, object] : known)
      if (!fresh.count(key)) gone.push_back(object);
    for (auto& object : gone) deliver(WatchEvent{"DELETED", std::move(object)});
    for (auto& [key, object] : fresh) {
      auto it = known.find(key);
      if (it == known.end()) deliver(WatchEvent{"ADDED", object});
      else if (object_resource_version(it->second) != object_resource_version(object)) deliver(WatchEvent{"MODIFIED", object});
    }
    result.resource_version = list.resource_version;
  };

  try {
    result.resource_version = options.resource_version;
    if (result.resource_version.empty()) relist();
    int failures = 0;
    for (;;) {
      cancel.check();
      if (has_deadline && clock::now() >= deadline)
        throw Error(Errc::timeout, fmt::format("{}: deadline of {} ms passed", what, options.deadline.count()));
      int timeout_seconds = options.timeout_seconds > 0 ? options.timeout_seconds : 300;
      Call call;
      call.path = resource.path(ns);
      call.path = with_query(call.path, "watch", "1");
      if (!result.resource_version.empty()) call.path = with_query(call.path, "resourceVersion", result.resource_version);
      call.path = with_query(call.path, "allowWatchBookmarks", "true");
      call.path = with_query(call.path, "timeoutSeconds", std::to_string(timeout_seconds));
      if (!options.label_selector.empty()) call.path = with_query(call.path, "labelSelector", options.label_selector);
      if (!options.field_selector.empty()) call.path = with_query(call.path, "fieldSelector", options.field_selector);
      call.streaming = true;
      // A server that ignores timeoutSeconds must not hold us forever.
      auto limit = std::chrono::milliseconds((timeout_seconds + 30) * 1000LL);
      if (has_deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        limit = std::min(limit, std::max(left, std::chrono::milliseconds(1)));
      }
      call.timeout = limit;
      bool got_events = false;
      LineSplitter lines(impl_->options.max_line_bytes, what);
      call.sink = [&](const char* data, std::size_t size) {
        lines.feed(std::string_view(data, size), [&](std::string_view line) {
          if (line.empty()) return;
          auto event = parse_watch_event(line, what);
          got_events = true;
          if (event.type == "ERROR") {
            if (json_int(event.object, {"code"}, 0) == 410) throw WatchGone{};
            throw status_object_error(event.object, 0, what);
          }
          auto rv = object_resource_version(event.object);
          if (!rv.empty()) result.resource_version = rv;
          if (event.type == "BOOKMARK" && !options.bookmarks) return;
          deliver(std::move(event));
        });
      };
      http::Response response;
      auto connected_at = clock::now();
      bool dropped = false;
      std::string drop_reason;
      try {
        response = impl_->send(call, cancel);
        if (response.status == 410) throw WatchGone{};
      } catch (const WatchGone&) {
        ++result.relists;
        relist();
        failures = 0;
        continue;
      } catch (const Error& e) {
        if (e.code() == Errc::cancelled) throw;
        if (e.code() != Errc::network && e.code() != Errc::timeout && e.code() != Errc::server) throw;
        if (has_deadline && clock::now() >= deadline)
          throw Error(Errc::timeout, fmt::format("{}: deadline of {} ms passed", what, options.deadline.count()));
        dropped = true;
        drop_reason = e.what();
      }
      if (!dropped) {
        if (!response.ok()) {
          if (response.status < 500 && response.status != 429)
            throw status_error(response.status, response.body, Impl::what(call));
          dropped = true;
          drop_reason = fmt::format("HTTP {}", response.status);
        } else if (!lines.pending().empty()) {
          dropped = true;
          drop_reason = "the stream ended inside an event";
        } else if (!got_events && clock::now() - connected_at < std::chrono::seconds(1)) {
          dropped = true;  // closing at once, again and again, must not spin
          drop_reason = "the server ended the watch at once";
        }
      }
      if (got_events) failures = 0;
      if (dropped) {
        if (++failures > options.max_reconnect_failures)
          throw Error(Errc::network,
                      fmt::format("{}: gave up after {} failed reconnects (last: {})", what, failures - 1, drop_reason));
        // 0.25 s, 0.5 s, 1 s ... up to 8 s between attempts.
        sleep_cancellable(std::chrono::milliseconds(250LL << std::min(failures - 1, 5)), cancel);
      }
      ++result.reconnects;
    }
  } catch (const StopWatch&) {
    return result;
  }
}

}  // namespace kiln::kube

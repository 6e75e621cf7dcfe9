// Pod logs: a followed container log delivered line by line as events,
// resumed after dropped connections (sinceTime + de-duplication by the
// server's timestamps) and continued across container restarts.
#include <thread>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "kube/auth.hpp"
#include "kube/channel.hpp"
#include "kube/client_impl.hpp"
#include "kube/lines.hpp"
#include "kube/resources.hpp"
#include "kube/status.hpp"

namespace kiln::kube {

namespace {

struct StopLogs {};

struct ContainerState {
  bool found = false;
  std::string id;      // containerID of the current instance ("" before it starts)
  std::int64_t restarts = 0;
  std::string state;   // "waiting", "running", "terminated"
  std::int64_t exit_code = 0;
};

const boost::json::value* at(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  auto it = v.get_object().find(key);
  return it == v.get_object().end() ? nullptr : &it->value();
}

ContainerState container_state(const Object& pod, const std::string& container) {
  boost::json::value v(pod);
  ContainerState out;
  const auto* status = at(v, "status");
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    const auto* statuses = status ? at(*status, list) : nullptr;
    if (!statuses || !statuses->is_array()) continue;
    for (const auto& cs : statuses->get_array()) {
      if (json_str(cs, {"name"}) != container) continue;
      out.found = true;
      out.id = json_str(cs, {"containerID"});
      if (const auto* r = at(cs, "restartCount"); r && r->is_int64()) out.restarts = r->get_int64();
      if (const auto* st = at(cs, "state"); st && st->is_object()) {
        for (const char* s : {"running", "terminated", "waiting"})
          if (st->get_object().contains(s)) out.state = s;
        if (const auto* t = at(*st, "terminated"); t)
          if (const auto* code = at(*t, "exitCode"); code && code->is_int64()) out.exit_code = code->get_int64();
      }
      return out;
    }
  }
  return out;
}

std::string only_container(const Object& pod, const std::string& name) {
  boost::json::value v(pod);
  const auto* spec = at(v, "spec");
  const auto* containers = spec ? at(*spec, "containers") : nullptr;
  if (!containers || !containers->is_array() || containers->get_array().empty())
    throw Error(Errc::protocol, fmt::format("pod {} has no containers", name));
  if (containers->get_array().size() > 1) {
    std::string names;
    for (const auto& c : containers->get_array()) names += (names.empty() ? "" : ", ") + json_str(c, {"name"});
    throw Error(Errc::invalid_argument, fmt::format("pod {} has several containers ({}); choose one", name, names));
  }
  return json_str(containers->get_array()[0], {"name"});
}

std::string with_query(std::string path, std::string_view key, std::string_view value) {
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += std::string(key) + "=" + query_escape(value);
  return path;
}

void add_since(std::string& path, const LogOptions& options) {
  if (!options.since_time.empty() && options.since_seconds)
    throw Error(Errc::invalid_argument, "log options: give since_time or since_seconds, not both");
  if (options.since_seconds && *options.since_seconds <= 0)
    throw Error(Errc::invalid_argument, "log options: since_seconds must be positive");
  if (!options.since_time.empty()) path = with_query(path, "sinceTime", options.since_time);
  if (options.since_seconds) path = with_query(path, "sinceSeconds", std::to_string(*options.since_seconds));
}

}  // namespace

std::string Client::logs(const std::string& pod, const LogOptions& options, const CancelToken& cancel) {
  Call call;
  call.path = resources::pods.path(impl_->ns(options.namespace_name), pod) + "/log";
  if (!options.container.empty()) call.path = with_query(call.path, "container", options.container);
  if (options.timestamps) call.path = with_query(call.path, "timestamps", "true");
  add_since(call.path, options);
  if (options.tail_lines) call.path = with_query(call.path, "tailLines", std::to_string(*options.tail_lines));
  if (options.previous) call.path = with_query(call.path, "previous", "true");
  call.accept = "*/*";
  auto response = impl_->send(call, cancel);
  if (!response.ok()) throw status_error(response.status, response.body, Impl::what(call));
  return std::move(response.body);
}

void Client::follow_logs(const std::string& pod, const LogOptions& options, const EventSink& events,
                         const CancelToken& cancel) {
  const std::string ns = impl_->ns(options.namespace_name);
  const std::string what = fmt::format("log of pod {}/{}", ns, pod);
  auto current = get(resources::pods, pod, ns, cancel);
  std::string container = options.container.empty() ? only_container(current, pod) : options.container;

  auto emit = [&](const char* type, boost::json::object details) {
    if (events && !events(Event{type, boost::json::serialize(details)})) throw StopLogs{};
  };

  // Waits until the container has an instance whose log can be read.
  auto wait_started = [&](const std::string& previous_id) {
    Object pod_now = wait_for(
        resources::pods, pod,
        [&](const Object& object) {
          auto cs = container_state(object, container);
          auto phase = json_str(boost::json::value(object), {"status", "phase"});
          if (phase == "Succeeded" || phase == "Failed") return true;
          return cs.found && !cs.id.empty() && cs.id != previous_id && cs.state != "waiting";
        },
        std::chrono::milliseconds(0), ns, cancel);
    return container_state(pod_now, container);
  };

  try {
    auto state = container_state(current, container);
    if (options.follow && (state.id.empty() || state.state == "waiting")) state = wait_started("");
    std::string instance = state.id;
    std::int64_t restarts = state.restarts;
    std::optional<std::chrono::system_clock::time_point> last_time;
    bool first = true;
    int resumes = 0;
    for (;;) {
      cancel.check();
      Call call;
      call.path = resources::pods.path(ns, pod) + "/log";
      call.path = with_query(call.path, "container", container);
      if (options.follow) call.path = with_query(call.path, "follow", "true");
      call.path = with_query(call.path, "timestamps", "true");
      if (first) {
        add_since(call.path, options);
        if (options.tail_lines) call.path = with_query(call.path, "tailLines", std::to_string(*options.tail_lines));
        if (options.previous) call.path = with_query(call.path, "previous", "true");
      } else if (!last_time) {
        // Dropped before the first line: ask again with the caller's window.
        add_since(call.path, options);
      } else {
        // sinceTime has second precision: lines already delivered are
        // skipped by their timestamps below.
        auto secs = std::chrono::time_point_cast<std::chrono::seconds>(*last_time);
        std::time_t t = std::chrono::system_clock::to_time_t(secs);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buffer[32];
        std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
        call.path = with_query(call.path, "sinceTime", buffer);
      }
      call.accept = "*/*";
      call.streaming = options.follow;
      LineSplitter lines(impl_->options.max_line_bytes, what);
      auto resume_after = last_time;
      auto handle_line = [&](std::string_view raw) {
        std::string_view text = raw;
        std::string stamp;
        auto space = raw.find(' ');
        std::optional<std::chrono::system_clock::time_point> when;
        if (space != std::string_view::npos) when = parse_rfc3339(raw.substr(0, space));
        if (when) {
          stamp = std::string(raw.substr(0, space));
          text = raw.substr(space + 1);
          if (resume_after && *when <= *resume_after) return;  // delivered before the reconnect
          last_time = when;
        }
        boost::json::object details{{"pod", pod}, {"namespace", ns}, {"container", container},
                                    {"line", sanitize_utf8(text)}, {"restart", restarts}};
        if (options.timestamps && !stamp.empty()) details["timestamp"] = stamp;
        emit("pod.log", std::move(details));
      };
      call.sink = [&](const char* data, std::size_t size) { lines.feed(std::string_view(data, size), handle_line); };
      bool dropped = false;
      http::Response response;
      try {
        response = impl_->send(call, cancel);
      } catch (const Error& e) {
        if (e.code() != Errc::network || !options.follow) throw;
        dropped = true;
      }
      if (!dropped && !response.ok()) {
        // 400 while a restarted container is not running yet: look again below.
        if (!(options.follow && response.status == 400)) throw status_error(response.status, response.body, Impl::what(call));
      }
      if (!lines.pending().empty()) {
        std::string rest(lines.pending());
        lines.reset();
        handle_line(rest);
      }
      first = false;
      if (!options.follow) return;

      auto now_pod = get(resources::pods, pod, ns, cancel);
      auto now = container_state(now_pod, container);
      auto phase = json_str(boost::json::value(now_pod), {"status", "phase"});
      if (now.found && !now.id.empty() && now.id != instance) {
        // A new instance: its log starts empty, read it from the beginning.
        instance = now.id;
        restarts = now.restarts;
        last_time.reset();
        emit("pod.restarted", {{"pod", pod}, {"namespace", ns}, {"container", container}, {"restart", restarts}});
        if (now.state == "waiting") {
          auto started = wait_started("");
          instance = started.id;
        }
        continue;
      }
      if (phase == "Succeeded" || phase == "Failed") return;
      if (now.state == "running") {
        // The follow ended on a running container: a proxy or the kubelet
        // dropped us. Resume from the last line, without hammering a server
        // that keeps failing.
        if (++resumes > 30)
          throw Error(Errc::network, fmt::format("{}: the log stream keeps breaking off; gave up after 30 resumes", what));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      std::string policy = json_str(boost::json::value(now_pod), {"spec", "restartPolicy"});
      if (now.state == "terminated" && (policy == "Never" || (policy == "OnFailure" && now.exit_code == 0))) return;
      if (!options.follow_restarts) return;
      // Terminated or crash-looping: wait for the next instance.
      auto next = wait_started(instance);
      if (next.id.empty() || next.id == instance) return;  // the pod finished instead
      instance = next.id;
      restarts = next.restarts;
      last_time.reset();
      emit("pod.restarted", {{"pod", pod}, {"namespace", ns}, {"container", container}, {"restart", restarts}});
    }
  } catch (const StopLogs&) {
    return;
  }
}

}  // namespace kiln::kube

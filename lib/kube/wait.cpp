// Waiting for a pod phase/condition or a deployment rollout, on a watch
// (no polling), with a deadline and cancellation.
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "kiln/kube.hpp"
#include "kube/client_impl.hpp"

namespace kiln::kube {

namespace {

const boost::json::object* obj(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  auto it = v.get_object().find(key);
  return it != v.get_object().end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

const boost::json::object* obj(const boost::json::object* o, std::string_view key) {
  if (!o) return nullptr;
  auto it = o->find(key);
  return it != o->end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

const boost::json::array* arr(const boost::json::object* o, std::string_view key) {
  if (!o) return nullptr;
  auto it = o->find(key);
  return it != o->end() && it->value().is_array() ? &it->value().get_array() : nullptr;
}

std::int64_t num(const boost::json::object* o, std::string_view key, std::int64_t fallback = 0) {
  if (!o) return fallback;
  auto it = o->find(key);
  if (it == o->end()) return fallback;
  if (it->value().is_int64()) return it->value().get_int64();
  if (it->value().is_uint64()) return static_cast<std::int64_t>(it->value().get_uint64());
  return fallback;
}

std::string str(const boost::json::object* o, std::string_view key) {
  if (!o) return {};
  auto it = o->find(key);
  return it != o->end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

// Why a pod cannot get anywhere, from its container statuses: the typed
// failures kiln reports instead of log scraping.
void check_pod_failure(const Object& pod, const std::string& name) {
  boost::json::value v(pod);
  const auto* status = obj(v, "status");
  auto phase = str(status, "phase");
  std::string detail;
  bool oom = false;
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const auto* statuses = arr(status, list);
    if (!statuses) continue;
    for (const auto& cs : *statuses) {
      const auto* state = obj(cs, "state");
      auto cname = json_str(cs, {"name"});
      if (const auto* waiting = obj(state, "waiting")) {
        auto reason = str(waiting, "reason");
        if (reason == "ErrImageNeverPull" || reason == "InvalidImageName" || reason == "ImagePullBackOff" ||
            reason == "CreateContainerConfigError" || reason == "CreateContainerError") {
          throw Error(Errc::unavailable, fmt::format("pod {}: container {} cannot start: {}: {}", name, cname, reason,
                                                     str(waiting, "message")))
              .with_remote_code(reason);
        }
      }
      if (const auto* term = obj(state, "terminated")) {
        auto reason = str(term, "reason");
        if (reason == "OOMKilled") oom = true;
        if (num(term, "exitCode") != 0)
          detail += fmt::format("{}container {} exited with {}{}", detail.empty() ? "" : "; ", cname,
                                num(term, "exitCode"), reason.empty() ? "" : " (" + reason + ")");
      }
    }
  }
  if (phase == "Failed") {
    auto reason = str(status, "reason");
    auto message = str(status, "message");
    std::string text = fmt::format("pod {} failed", name);
    if (!reason.empty()) text += ": " + reason;
    if (!message.empty()) text += ": " + message;
    if (!detail.empty()) text += " (" + detail + ")";
    throw Error(oom ? Errc::out_of_memory : Errc::build_failed, text).with_remote_code(oom ? "OOMKilled" : reason);
  }
}

std::string pod_summary(const Object& pod) {
  boost::json::value v(pod);
  const auto* status = obj(v, "status");
  auto phase = str(status, "phase");
  return phase.empty() ? "no status yet" : "phase " + phase;
}

Object wait_impl(Client& client, const Resource& resource, const std::string& name,
                 const std::function<bool(const Object&)>& predicate, std::chrono::milliseconds timeout,
                 const std::string& ns, const CancelToken& cancel,
                 const std::function<std::string(const Object&)>& describe) {
  // The object must exist: waiting for something nobody creates would only
  // end at the deadline, with a less useful message.
  auto current = client.get(resource, name, ns, cancel);
  if (predicate(current)) return current;
  WatchOptions options;
  options.namespace_name = ns;
  options.field_selector = "metadata.name=" + name;
  options.resource_version = object_resource_version(current);
  options.deadline = timeout;
  options.bookmarks = false;
  std::optional<Object> last = current, matched;
  try {
    client.watch(resource, options,
          [&](const WatchEvent& event) {
            if (event.type == "DELETED")
              throw Error(Errc::not_found, fmt::format("{} {} was deleted while waiting for it", resource.kind, name))
                  .with_remote_code("NotFound");
            last = event.object;
            if (predicate(event.object)) {
              matched = event.object;
              return false;
            }
            return true;
          },
          cancel);
  } catch (const Error& e) {
    if (e.code() != Errc::timeout) throw;
    std::string state = describe ? describe(*last) : "condition not met";
    throw Error(Errc::timeout, fmt::format("{} {} in namespace {}: not ready within {} s ({})", resource.kind, name,
                                           ns.empty() ? client.default_namespace() : ns, timeout.count() / 1000.0, state));
  }
  return std::move(*matched);
}

}  // namespace

Object Client::wait_for(const Resource& resource, const std::string& name,
                        const std::function<bool(const Object&)>& predicate, std::chrono::milliseconds timeout,
                        const std::string& ns, const CancelToken& cancel) {
  return wait_impl(*this, resource, name, predicate, timeout, ns, cancel, nullptr);
}

Object Client::wait_for_pod_phase(const std::string& pod, const std::string& phase, std::chrono::milliseconds timeout,
                                  const std::string& ns, const CancelToken& cancel) {
  if (phase != "Pending" && phase != "Running" && phase != "Succeeded" && phase != "Failed")
    throw Error(Errc::invalid_argument, fmt::format("\"{}\" is not a pod phase (Pending, Running, Succeeded, Failed)", phase));
  return wait_impl(*this,
      resources::pods, pod,
      [&](const Object& object) {
        auto current = json_str(boost::json::value(object), {"status", "phase"});
        if (current == phase) return true;
        // A pod that already finished satisfies a wait for Running.
        if (phase == "Running" && current == "Succeeded") return true;
        if (phase != "Failed") check_pod_failure(object, pod);
        if (phase == "Failed" && current == "Succeeded")
          throw Error(Errc::conflict, fmt::format("pod {} succeeded while waiting for it to fail", pod));
        return false;
      },
      timeout, ns, cancel, pod_summary);
}

Object Client::wait_for_pod_condition(const std::string& pod, const std::string& condition,
                                      std::chrono::milliseconds timeout, const std::string& ns, const CancelToken& cancel) {
  return wait_impl(*this,
      resources::pods, pod,
      [&](const Object& object) {
        boost::json::value v(object);
        const auto* conditions = arr(obj(v, "status"), "conditions");
        if (conditions) {
          for (const auto& c : *conditions)
            if (json_str(c, {"type"}) == condition && json_str(c, {"status"}) == "True") return true;
        }
        check_pod_failure(object, pod);
        if (json_str(v, {"status", "phase"}) == "Succeeded")
          throw Error(Errc::conflict, fmt::format("pod {} finished before its condition {} became true", pod, condition));
        return false;
      },
      timeout, ns, cancel, pod_summary);
}

Object Client::wait_for_rollout(const std::string& deployment, std::chrono::milliseconds timeout, const std::string& ns,
                                const CancelToken& cancel) {
  auto describe = [](const Object& object) {
    boost::json::value v(object);
    const auto* status = obj(v, "status");
    return fmt::format("{} of {} replicas updated, {} available", num(status, "updatedReplicas"),
                       num(obj(v, "spec"), "replicas", 1), num(status, "availableReplicas"));
  };
  return wait_impl(*this,
      resources::deployments, deployment,
      [&](const Object& object) {
        // The rules of kubectl rollout status.
        boost::json::value v(object);
        const auto* meta = obj(v, "metadata");
        const auto* spec = obj(v, "spec");
        const auto* status = obj(v, "status");
        if (num(meta, "generation") > num(status, "observedGeneration")) return false;
        if (const auto* conditions = arr(status, "conditions")) {
          for (const auto& c : *conditions)
            if (json_str(c, {"type"}) == "Progressing" && json_str(c, {"reason"}) == "ProgressDeadlineExceeded")
              throw Error(Errc::timeout, fmt::format("deployment {} exceeded its progress deadline", deployment))
                  .with_remote_code("ProgressDeadlineExceeded");
        }
        auto wanted = num(spec, "replicas", 1);
        auto updated = num(status, "updatedReplicas");
        if (updated < wanted) return false;
        if (num(status, "replicas") > updated) return false;
        if (num(status, "availableReplicas") < updated) return false;
        return true;
      },
      timeout, ns, cancel, describe);
}

}  // namespace kiln::kube

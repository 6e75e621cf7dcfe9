// Events of one copy: calls into the caller's sink are serialised (workers
// run in parallel) and a sink returning false cancels the operation.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <mutex>

#include "kiln/cancel.hpp"
#include "kiln/events.hpp"
#include "kiln/registry.hpp"

namespace kiln::registry_detail {

class CopyEvents {
 public:
  CopyEvents(const EventSink& sink, CancelToken operation) : sink_(sink), operation_(std::move(operation)) {}

  bool enabled() const { return static_cast<bool>(sink_); }
  void emit(const char* type, const boost::json::object& details);
  // Refuses to emit while `cancelled()`; the copy reports cancellation.
  bool cancelled_by_sink() const { return cancelled_by_sink_; }

 private:
  const EventSink& sink_;
  CancelToken operation_;
  std::mutex mutex_;
  bool cancelled_by_sink_ = false;
};

// blob.progress at most every `interval` for one blob.
class ProgressThrottle {
 public:
  explicit ProgressThrottle(std::chrono::milliseconds interval = std::chrono::milliseconds(250))
      : interval_(interval), last_(std::chrono::steady_clock::now()) {}
  bool due() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) return false;
    last_ = now;
    return true;
  }

 private:
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_;
};

boost::json::object blob_details(const Descriptor& blob);

}  // namespace kiln::registry_detail

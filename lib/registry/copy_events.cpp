#include "registry/copy_events.hpp"

namespace kiln::registry_detail {

void CopyEvents::emit(const char* type, const boost::json::object& details) {
  if (!sink_) return;
  std::lock_guard lock(mutex_);
  if (cancelled_by_sink_) return;
  bool keep_going = false;
  try {
    keep_going = sink_(Event{type, boost::json::serialize(details)});
  } catch (...) {
    // A throwing sink is treated like one that asked to stop: the exception
    // must not unwind through a worker thread.
    keep_going = false;
  }
  if (!keep_going) {
    cancelled_by_sink_ = true;
    operation_.cancel();
  }
}

boost::json::object blob_details(const Descriptor& blob) {
  boost::json::object details;
  details["digest"] = blob.digest.str();
  details["size"] = blob.size;
  details["mediaType"] = blob.media_type;
  return details;
}

}  // namespace kiln::registry_detail

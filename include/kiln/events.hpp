// Progress and log events. An event is a type name plus a JSON object of
// details, so that the C API can hand it across unchanged and new fields never
// break a consumer.
#pragma once

#include <functional>
#include <string>

namespace kiln {

struct Event {
  // Dotted names: "blob.start", "blob.progress", "blob.done", "blob.skipped",
  // "blob.mounted", "manifest.put", "copy.done", "context.progress",
  // "build.log", "pod.status", "warning", ...
  std::string type;
  // A JSON object (UTF-8 text). Never contains credentials.
  std::string json;
};

// Called from whichever thread does the work; a sink shared between threads
// must be thread-safe (the library serialises calls it makes for one
// operation). Returning false asks the operation to cancel.
using EventSink = std::function<bool(const Event&)>;

}  // namespace kiln

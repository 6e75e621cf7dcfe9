// Emitting events from the context layer: JSON built with Boost.JSON, a sink
// that returns false cancels the operation.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "kiln/cancel.hpp"
#include "kiln/error.hpp"
#include "kiln/events.hpp"

namespace kiln::context {

inline void emit(const EventSink& sink, const char* type, const boost::json::object& details) {
  if (!sink) return;
  if (!sink(Event{type, boost::json::serialize(details)})) {
    throw Error(Errc::cancelled, std::string("cancelled by the event callback (") + type + ")");
  }
}

inline void check_cancel(const CancelToken& cancel) {
  if (cancel.cancelled()) throw Error(Errc::cancelled, "build context operation cancelled");
}

}  // namespace kiln::context

// Splits a byte stream into lines with a cap on the line length, so that an
// endless line from a broken or hostile server costs bounded memory.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "kiln/kube.hpp"

namespace kiln::kube {

class LineSplitter {
 public:
  // `what` names the stream in errors ("watch pods", "log of pod x").
  LineSplitter(std::size_t max_line, std::string what) : max_line_(max_line), what_(std::move(what)) {}

  // Calls on_line for each complete line (without "\n" or "\r\n"); throws
  // Error(too_large) when a line grows beyond the cap. on_line may throw.
  void feed(std::string_view data, const std::function<void(std::string_view)>& on_line);
  // The unterminated rest (a log's last line may lack "\n").
  std::string_view pending() const { return buffer_; }
  void reset() { buffer_.clear(); }

 private:
  std::size_t max_line_;
  std::string what_;
  std::string buffer_;
};

// One line of a watch stream. ERROR events come back with type "ERROR" and
// the Status as object. Throws Error(protocol) naming the problem for
// anything that is not {"type": <known>, "object": {...}}.
WatchEvent parse_watch_event(std::string_view line, std::string_view what);

}  // namespace kiln::kube

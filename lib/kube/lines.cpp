#include "kube/lines.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

namespace kiln::kube {

void LineSplitter::feed(std::string_view data, const std::function<void(std::string_view)>& on_line) {
  while (!data.empty()) {
    auto nl = data.find('\n');
    std::string_view piece = nl == std::string_view::npos ? data : data.substr(0, nl);
    if (buffer_.size() + piece.size() > max_line_)
      throw Error(Errc::too_large, fmt::format("{}: a line is longer than {} bytes; the server sent a malformed or "
                                               "endless stream (raise ClientOptions::max_line_bytes if it is legitimate)",
                                               what_, max_line_));
    if (nl == std::string_view::npos) {
      buffer_.append(piece);
      return;
    }
    auto trim = [](std::string_view l) {
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      return l;
    };
    if (buffer_.empty()) {
      on_line(trim(piece));
    } else {
      std::string line;
      line.swap(buffer_);
      line.append(piece);
      on_line(trim(line));
    }
    data.remove_prefix(nl + 1);
  }
}

WatchEvent parse_watch_event(std::string_view line, std::string_view what) {
  auto shown = [&] {
    std::string s;
    for (char c : line.substr(0, 80)) s += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : '?';
    return line.size() > 80 ? s + "..." : s;
  };
  boost::system::error_code ec;
  auto value = boost::json::parse(line, ec);
  if (ec || !value.is_object())
    throw Error(Errc::protocol, fmt::format("{}: the server sent a line that is not a JSON watch event: \"{}\"", what, shown()));
  auto& o = value.get_object();
  auto type = o.find("type");
  auto object = o.find("object");
  if (type == o.end() || !type->value().is_string())
    throw Error(Errc::protocol, fmt::format("{}: watch event without a \"type\": \"{}\"", what, shown()));
  if (object == o.end() || !object->value().is_object())
    throw Error(Errc::protocol, fmt::format("{}: watch event without an \"object\": \"{}\"", what, shown()));
  WatchEvent event;
  event.type = std::string(type->value().get_string());
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED" && event.type != "BOOKMARK" &&
      event.type != "ERROR")
    throw Error(Errc::protocol, fmt::format("{}: unknown watch event type \"{}\"", what, shown()));
  event.object = std::move(object->value().get_object());
  return event;
}

}  // namespace kiln::kube

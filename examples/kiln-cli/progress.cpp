#include "progress.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>

namespace kiln_cli {

namespace {

// Events are small flat JSON objects; reading two fields does not need a parser.
std::string field(const std::string& json, const std::string& name) {
  std::string key = "\"" + name + "\":";
  auto at = json.find(key);
  if (at == std::string::npos) return {};
  at += key.size();
  if (at < json.size() && json[at] == '"') {
    auto end = json.find('"', at + 1);
    return json.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  }
  auto end = json.find_first_of(",}", at);
  return json.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string short_digest(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(colon + 1, 12);
}

std::string human(const std::string& bytes) {
  double n = bytes.empty() ? 0 : std::stod(bytes);
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (n >= 1024 && u < 4) {
    n /= 1024;
    ++u;
  }
  char out[32];
  std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
  return out;
}

}  // namespace

kiln::EventSink progress_printer() {
  auto last = std::make_shared<std::map<std::string, std::chrono::steady_clock::time_point>>();
  return [last](const kiln::Event& event) {
    const std::string& j = event.json;
    std::string digest = short_digest(field(j, "digest"));
    const std::string& t = event.type;
    if (t == "blob.start") {
      std::cerr << "blob " << digest << ": copying " << human(field(j, "size")) << "\n";
    } else if (t == "blob.progress") {
      auto now = std::chrono::steady_clock::now();
      auto& at = (*last)[digest];
      if (now - at < std::chrono::seconds(2)) return true;
      at = now;
      std::cerr << "blob " << digest << ": " << human(field(j, "bytes")) << " / " << human(field(j, "size")) << "\n";
    } else if (t == "blob.done") {
      std::cerr << "blob " << digest << ": done\n";
    } else if (t == "blob.skipped") {
      std::cerr << "blob " << digest << ": already present\n";
    } else if (t == "blob.mounted") {
      std::cerr << "blob " << digest << ": mounted from " << field(j, "from") << "\n";
    } else if (t == "manifest.put") {
      std::cerr << "manifest " << digest << ": stored as " << field(j, "reference") << "\n";
    } else if (t == "copy.done") {
      std::cerr << "copy done: " << field(j, "digest") << "\n";
    } else {
      std::cerr << t << " " << j << "\n";
    }
    return true;
  };
}

}  // namespace kiln_cli

#include "http/link_header.hpp"

#include "http/client.hpp"

namespace kiln::http {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

void skip_space(std::string_view s, std::size_t& i) {
  while (i < s.size() && is_space(s[i])) ++i;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// Reads a token or quoted-string starting at i; stops at ';' or ',' outside quotes.
std::string read_value(std::string_view s, std::size_t& i) {
  std::string out;
  if (i < s.size() && s[i] == '"') {
    ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out.push_back(s[i++]);
    }
    if (i < s.size()) ++i;  // closing quote
    return out;
  }
  while (i < s.size() && s[i] != ';' && s[i] != ',') out.push_back(s[i++]);
  while (!out.empty() && is_space(out.back())) out.pop_back();
  return out;
}

// Skips to just after the next ',' outside quotes and angle brackets (error recovery).
void skip_element(std::string_view s, std::size_t& i) {
  bool quoted = false;
  for (; i < s.size(); ++i) {
    if (quoted) {
      if (s[i] == '\\') ++i;
      else if (s[i] == '"') quoted = false;
    } else if (s[i] == '"') {
      quoted = true;
    } else if (s[i] == ',') {
      ++i;
      return;
    }
  }
}

}  // namespace

std::optional<std::string> Link::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

bool Link::has_rel(std::string_view rel) const {
  auto value = param("rel");
  if (!value) return false;
  std::string_view v = *value;
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && is_space(v[i])) ++i;
    std::size_t start = i;
    while (i < v.size() && !is_space(v[i])) ++i;
    if (i > start && iequals(v.substr(start, i - start), rel)) return true;
  }
  return false;
}

std::vector<Link> parse_link_header(std::string_view s) {
  std::vector<Link> links;
  std::size_t i = 0;
  while (i < s.size()) {
    skip_space(s, i);
    if (i >= s.size()) break;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '<') {
      skip_element(s, i);
      continue;
    }
    auto close = s.find('>', i + 1);
    if (close == std::string_view::npos) break;
    Link link;
    link.target = std::string(s.substr(i + 1, close - i - 1));
    i = close + 1;
    bool bad = false;
    while (true) {
      skip_space(s, i);
      if (i >= s.size()) break;
      if (s[i] == ',') {
        ++i;
        break;
      }
      if (s[i] != ';') {
        bad = true;
        skip_element(s, i);
        break;
      }
      ++i;
      skip_space(s, i);
      std::size_t start = i;
      while (i < s.size() && s[i] != '=' && s[i] != ';' && s[i] != ',' && !is_space(s[i])) ++i;
      std::string name = lower(s.substr(start, i - start));
      skip_space(s, i);
      std::string value;
      if (i < s.size() && s[i] == '=') {
        ++i;
        skip_space(s, i);
        value = read_value(s, i);
      }
      if (!name.empty()) link.params.emplace_back(std::move(name), std::move(value));
    }
    if (!bad) links.push_back(std::move(link));
  }
  return links;
}

std::optional<std::string> next_link(const std::vector<std::string>& values) {
  for (const auto& value : values) {
    for (const auto& link : parse_link_header(value)) {
      if (link.has_rel("next")) return link.target;
    }
  }
  return std::nullopt;
}

}  // namespace kiln::http

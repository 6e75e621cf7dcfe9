#include "auth/challenge.hpp"

namespace kiln::auth {
namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token68_char(char c) { return is_tchar(c) || c == '/'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  void run(std::vector<Challenge>& out) {
    while (true) {
      skip_separators();
      if (at_end()) return;
      std::size_t start = i_;
      while (!at_end() && is_tchar(s_[i_])) ++i_;
      if (i_ == start) {
        // Garbage where a scheme should be: skip to the next comma.
        while (!at_end() && s_[i_] != ',') ++i_;
        continue;
      }
      Challenge c;
      c.scheme = lower(s_.substr(start, i_ - start));
      parse_params(c);
      out.push_back(std::move(c));
    }
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  void skip_space() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  void skip_separators() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == ',')) ++i_;
  }

  // After the scheme: auth-params (comma separated) or a token68, until a
  // token that is not followed by '=' starts the next challenge.
  void parse_params(Challenge& c) {
    bool first = true;
    while (true) {
      std::size_t save = i_;
      skip_separators();
      if (at_end()) return;
      std::size_t start = i_;
      while (!at_end() && is_token68_char(s_[i_])) ++i_;
      std::size_t name_end = i_;
      if (name_end == start) {
        // Not a name: skip this element.
        while (!at_end() && s_[i_] != ',') ++i_;
        continue;
      }
      skip_space();
      if (at_end() || s_[i_] != '=') {
        if (first && save < s_.size() && !had_comma(save, start)) {
          // "Negotiate abc" (token68 without padding)
          c.token68 = std::string(s_.substr(start, name_end - start));
          first = false;
          continue;
        }
        i_ = start;  // the next challenge's scheme
        return;
      }
      // '=' follows: a parameter, or token68 padding ("abc==").
      std::size_t eq = i_;
      std::size_t j = i_;
      while (j < s_.size() && s_[j] == '=') ++j;
      std::size_t k = j;
      while (k < s_.size() && (s_[k] == ' ' || s_[k] == '\t')) ++k;
      if (first && (j - eq > 1 || k >= s_.size() || s_[k] == ',') && !had_comma(save, start)) {
        c.token68 = std::string(s_.substr(start, j - start));
        i_ = j;
        first = false;
        continue;
      }
      ++i_;  // '='
      skip_space();
      std::string value;
      if (!at_end() && s_[i_] == '"') {
        ++i_;
        while (!at_end() && s_[i_] != '"') {
          if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
          value.push_back(s_[i_++]);
        }
        if (!at_end()) ++i_;
      } else {
        while (!at_end() && s_[i_] != ',' && s_[i_] != ' ' && s_[i_] != '\t') value.push_back(s_[i_++]);
      }
      std::string name = lower(s_.substr(start, name_end - start));
      if (c.params.find(name) == c.params.end()) c.params.emplace(std::move(name), std::move(value));
      first = false;
      // Anything up to the next comma is junk.
      skip_space();
      while (!at_end() && s_[i_] != ',') ++i_;
    }
  }

  // Whether a comma separates position a from b (token68 must directly follow the scheme).
  bool had_comma(std::size_t a, std::size_t b) const {
    for (std::size_t x = a; x < b && x < s_.size(); ++x) {
      if (s_[x] == ',') return true;
    }
    return false;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

std::vector<Challenge> parse_www_authenticate(std::string_view header_value) {
  std::vector<Challenge> out;
  Parser(header_value).run(out);
  return out;
}

std::vector<Challenge> parse_www_authenticate(const std::vector<std::string>& header_values) {
  std::vector<Challenge> out;
  for (const auto& v : header_values) Parser(v).run(out);
  return out;
}

}  // namespace kiln::auth

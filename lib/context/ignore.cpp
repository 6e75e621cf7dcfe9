#include "context/ignore.hpp"

#include "context/regex.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

namespace kiln::context {
namespace {

// Go's unicode.IsSpace, on UTF-8 text.
std::size_t space_at(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  auto starts = [&](std::string_view seq) { return s.substr(i, seq.size()) == seq; };
  if (starts("\xC2\x85") || starts("\xC2\xA0")) return 2;
  if (starts("\xE1\x9A\x80") || starts("\xE2\x80\xA8") || starts("\xE2\x80\xA9") || starts("\xE2\x80\xAF") ||
      starts("\xE2\x81\x9F") || starts("\xE3\x80\x80"))
    return 3;
  if (i + 2 < s.size() && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80) {
    auto c2 = static_cast<unsigned char>(s[i + 2]);
    if (c2 >= 0x80 && c2 <= 0x8A) return 3;  // U+2000..U+200A
  }
  return 0;
}

std::size_t space_before(std::string_view s, std::size_t end) {
  for (std::size_t len : {1, 2, 3}) {
    if (end >= len && space_at(s, end - len) == len) return len;
  }
  return 0;
}

std::string_view trim_space(std::string_view s) {
  std::size_t b = 0;
  while (b < s.size()) {
    auto n = space_at(s, b);
    if (!n) break;
    b += n;
  }
  std::size_t e = s.size();
  while (e > b) {
    auto n = space_before(s, e);
    if (!n) break;
    e -= n;
  }
  return s.substr(b, e - b);
}

std::string shorten(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (text.size() > 80) out += "...";
  return out;
}

[[noreturn]] void bad_pattern(std::string_view pattern, const std::string& what) {
  throw Error(Errc::invalid_argument,
              ".dockerignore pattern \"" + shorten(pattern) + "\" is malformed: " + what +
                  " (fix or remove the line; Docker rejects it too)");
}

// Go's filepath.Match syntax check (what patternmatcher.New calls with ".").
// Returns what is wrong, or an empty string.
std::string go_match_syntax(std::string_view p) {
  auto get_esc = [](std::string_view& chunk) -> bool {
    if (chunk.empty() || chunk[0] == '-' || chunk[0] == ']') return false;
    if (chunk[0] == '\\') {
      chunk.remove_prefix(1);
      if (chunk.empty()) return false;
    }
    auto runes = decode_utf8(chunk.substr(0, 4));
    std::size_t n = 1;
    auto b0 = static_cast<unsigned char>(chunk[0]);
    if (b0 >= 0x80) {
      if (runes.empty() || runes[0] == 0xFFFD) {
        // U+FFFD itself is valid UTF-8 (EF BF BD); only a bad byte is an error.
        if (!(chunk.size() >= 3 && chunk.substr(0, 3) == "\xEF\xBF\xBD")) return false;
        n = 3;
      } else {
        n = runes[0] < 0x800 ? 2 : runes[0] < 0x10000 ? 3 : 4;
      }
    }
    chunk.remove_prefix(n);
    return !chunk.empty();
  };
  while (!p.empty()) {
    while (!p.empty() && p[0] == '*') p.remove_prefix(1);
    bool inrange = false;
    std::size_t i = 0;
    for (; i < p.size(); ++i) {
      char c = p[i];
      if (c == '\\') {
        if (i + 1 < p.size()) ++i;
      } else if (c == '[') {
        inrange = true;
      } else if (c == ']') {
        inrange = false;
      } else if (c == '*' && !inrange) {
        break;
      }
    }
    std::string_view chunk = p.substr(0, i);
    p.remove_prefix(i);
    while (!chunk.empty()) {
      char c = chunk[0];
      if (c == '[') {
        chunk.remove_prefix(1);
        if (!chunk.empty() && chunk[0] == '^') chunk.remove_prefix(1);
        int nrange = 0;
        for (;;) {
          if (!chunk.empty() && chunk[0] == ']' && nrange > 0) {
            chunk.remove_prefix(1);
            break;
          }
          if (!get_esc(chunk)) return "a character class is not closed or has an empty or malformed range";
          if (chunk[0] == '-') {
            chunk.remove_prefix(1);
            if (!get_esc(chunk)) return "a character class has a malformed range";
          }
          ++nrange;
        }
      } else if (c == '\\') {
        chunk.remove_prefix(1);
        if (chunk.empty()) return "it ends in a lone backslash";
        chunk.remove_prefix(1);
      } else {
        chunk.remove_prefix(1);
      }
    }
  }
  return {};
}

bool should_escape(char32_t c) {
  switch (c) {
    case U'.': case U'+': case U'(': case U')': case U'|': case U'{': case U'}': case U'$':
      return true;
    default:
      return false;
  }
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

}  // namespace

std::string go_clean(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path[0] == '/';
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    auto part = path.substr(i, j - i);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
    } else {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  if (out.empty()) return ".";
  return out;
}

std::vector<std::string> read_dockerignore(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    bool has_nl = nl != std::string_view::npos;
    std::string_view line = text.substr(pos, (has_nl ? nl : text.size()) - pos);
    // Go's bufio.Scanner gives up on lines longer than 64 KiB.
    if (line.size() + (has_nl ? 1 : 0) > 64 * 1024) {
      throw Error(Errc::invalid_argument, ".dockerignore line " + std::to_string(line_no + 1) +
                                              " is longer than 64 KiB; Docker cannot read it either");
    }
    pos = has_nl ? nl + 1 : text.size();
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 0 && starts_with(line, "\xEF\xBB\xBF")) line.remove_prefix(3);
    ++line_no;
    if (starts_with(line, "#")) continue;
    std::string_view pattern = trim_space(line);
    if (pattern.empty()) continue;
    bool invert = pattern[0] == '!';
    if (invert) pattern = trim_space(pattern.substr(1));
    std::string cleaned;
    if (!pattern.empty()) {
      cleaned = go_clean(pattern);
      if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
    }
    out.push_back(invert ? "!" + cleaned : cleaned);
  }
  return out;
}

Pattern::Pattern(std::string cleaned, bool exclusion) : cleaned_(std::move(cleaned)), exclusion_(exclusion) {
  if (auto problem = go_match_syntax(cleaned_); !problem.empty()) bad_pattern(cleaned_, problem);
  // patternmatcher's compile(): the same expression text, the same fast paths.
  std::u32string runes = decode_utf8(cleaned_);
  std::u32string re = U"^";
  Kind kind = Kind::exact;
  std::size_t k = 0;
  for (int i = 0; k < runes.size(); ++i) {
    char32_t ch = runes[k++];
    if (ch == U'*') {
      if (k < runes.size() && runes[k] == U'*') {
        ++k;
        if (k < runes.size() && runes[k] == U'/') ++k;
        if (k >= runes.size()) {
          if (kind == Kind::exact) {
            kind = Kind::prefix;
          } else {
            re += U".*";
            kind = Kind::regex;
          }
        } else {
          re += U"(.*/)?";
          kind = Kind::regex;
        }
        if (i == 0) kind = Kind::suffix;
      } else {
        re += U"[^/]*";
        kind = Kind::regex;
      }
    } else if (ch == U'?') {
      re += U"[^/]";
      kind = Kind::regex;
    } else if (should_escape(ch)) {
      re += U'\\';
      re += ch;
    } else if (ch == U'\\') {
      if (k < runes.size()) {
        re += U'\\';
        re += runes[k++];
        kind = Kind::regex;
      } else {
        re += U'\\';
      }
    } else if (ch == U'[' || ch == U']') {
      re += ch;
      kind = Kind::regex;
    } else {
      re += ch;
    }
  }
  if (kind == Kind::regex) {
    re += U'$';
    try {
      regex_ = std::make_unique<Regex>(re);
    } catch (const Error& e) {
      bad_pattern(cleaned_, e.what());
    }
  }
  kind_ = kind;
}

Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;
Pattern::~Pattern() = default;

bool Pattern::match(std::string_view path) const {
  switch (kind_) {
    case Kind::exact:
      return path == cleaned_;
    case Kind::prefix:
      return starts_with(path, std::string_view(cleaned_).substr(0, cleaned_.size() - 2));
    case Kind::suffix: {
      std::string_view suffix = std::string_view(cleaned_).substr(2);
      if (ends_with(path, suffix)) return true;
      return suffix[0] == '/' && path == suffix.substr(1);
    }
    case Kind::regex:
      return regex_->full_match(path);
  }
  return false;
}

PatternSet::PatternSet(const std::vector<std::string>& patterns) {
  for (const auto& raw : patterns) {
    std::string_view t = trim_space(raw);
    if (t.empty()) continue;
    std::string p = go_clean(t);
    bool exclusion = false;
    if (p[0] == '!') {
      if (p.size() == 1) {
        throw Error(Errc::invalid_argument,
                    ".dockerignore has an exception \"!\" without a pattern (illegal exclusion pattern); "
                    "remove the line or write the path after '!'");
      }
      exclusion = true;
      p.erase(0, 1);
      exclusions_ = true;
    }
    patterns_.emplace_back(std::move(p), exclusion);
  }
}

bool PatternSet::match_with_parent(std::string_view path, const std::vector<std::uint8_t>* parent,
                                   std::vector<std::uint8_t>& out) const {
  out.assign(patterns_.size(), 0);
  bool matched = false;
  for (std::size_t i = 0; i < patterns_.size(); ++i) {
    const Pattern& pattern = patterns_[i];
    bool match = parent && (*parent)[i];
    if (!match) {
      if (pattern.exclusion() != matched) continue;
      match = pattern.match(path);
      if (!match && !parent) {
        // No parent results: check every parent directory, as
        // MatchesOrParentMatches does.
        for (auto slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', slash + 1)) {
          if (pattern.match(path.substr(0, slash))) {
            match = true;
            break;
          }
        }
      }
    }
    out[i] = match;
    if (match) matched = !pattern.exclusion();
  }
  return matched;
}

bool PatternSet::matches_or_parent_matches(std::string_view path) const {
  bool matched = false;
  for (const auto& pattern : patterns_) {
    if (pattern.exclusion() != matched) continue;
    bool match = pattern.match(path);
    if (!match) {
      for (auto slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', slash + 1)) {
        if (pattern.match(path.substr(0, slash))) {
          match = true;
          break;
        }
      }
    }
    if (match) matched = !pattern.exclusion();
  }
  return matched;
}

bool PatternSet::exception_below(std::string_view dir) const {
  std::string dir_slash = std::string(dir) + "/";
  for (const auto& pattern : patterns_) {
    if (!pattern.exclusion()) continue;
    if (starts_with(pattern.text() + "/", dir_slash)) return true;
  }
  return false;
}

}  // namespace kiln::context

namespace kiln {

struct IgnoreMatcher::Impl {
  std::vector<std::string> patterns;
  context::PatternSet set;
};

IgnoreMatcher IgnoreMatcher::parse(std::string_view text) { return IgnoreMatcher(context::read_dockerignore(text)); }

IgnoreMatcher::IgnoreMatcher(const std::vector<std::string>& patterns)
    : impl_(std::make_unique<Impl>(Impl{patterns, context::PatternSet(patterns)})) {}
IgnoreMatcher::IgnoreMatcher(IgnoreMatcher&&) noexcept = default;
IgnoreMatcher& IgnoreMatcher::operator=(IgnoreMatcher&&) noexcept = default;
IgnoreMatcher::~IgnoreMatcher() = default;

const std::vector<std::string>& IgnoreMatcher::patterns() const { return impl_->patterns; }

bool IgnoreMatcher::excluded(std::string_view path) const {
  std::string cleaned = context::go_clean(path);
  if (cleaned == ".") return false;
  return impl_->set.matches_or_parent_matches(cleaned);
}

}  // namespace kiln

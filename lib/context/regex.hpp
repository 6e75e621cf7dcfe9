// The small part of Go's RE2 syntax that moby's patternmatcher turns
// .dockerignore patterns into: literals, classes (ranges, negation, Perl and
// POSIX classes), '.', '*', '+', '?', groups and the ^ $ anchors, with Go's
// flags (a negated class matches '\n', '.' does not). Matching is a Thompson
// NFA simulation: linear in the path length whatever the pattern.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::context {

// Decodes like Go: an invalid byte becomes U+FFFD and advances one byte.
std::u32string decode_utf8(std::string_view text);

class Regex {
 public:
  // Throws Error(invalid_argument) with what is wrong (Go's compile errors).
  explicit Regex(const std::u32string& expression);
  bool full_match(std::string_view text) const;

 private:
  struct Range {
    char32_t lo, hi;
  };
  struct Set {
    std::vector<Range> ranges;
    bool negated = false;
    bool contains(char32_t c) const;
  };
  enum class Op : std::uint8_t { character, split, begin, end, match };
  struct State {
    Op op;
    int set = -1;   // index into sets_ for Op::character
    int out = -1;
    int out1 = -1;  // second branch of Op::split
  };
  class Parser;
  std::vector<State> states_;
  std::vector<Set> sets_;
  int start_ = -1;
};

}  // namespace kiln::context

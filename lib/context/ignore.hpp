// .dockerignore reading and matching with Docker's exact semantics: the
// moby/patternmatcher rules (fast paths, the regular expression each pattern
// becomes, parent-directory matching) as the docker CLI applies them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::context {

// Go's filepath.Clean for '/'-separated paths.
std::string go_clean(std::string_view path);

// ignorefile.ReadAll: comments, whitespace, '!' handling, Clean, leading '/'.
// Throws Error(invalid_argument) for a line longer than Go's scanner takes.
std::vector<std::string> read_dockerignore(std::string_view text);

class Regex;  // the subset of Go's RE2 that patterns compile to

class Pattern {
 public:
  // p is cleaned and has no leading '!'. Throws Error(invalid_argument).
  explicit Pattern(std::string cleaned, bool exclusion);
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;
  ~Pattern();

  bool exclusion() const noexcept { return exclusion_; }
  const std::string& text() const noexcept { return cleaned_; }
  bool match(std::string_view path) const;

 private:
  enum class Kind { exact, prefix, suffix, regex };
  std::string cleaned_;
  bool exclusion_;
  Kind kind_ = Kind::exact;
  std::unique_ptr<Regex> regex_;
};

class PatternSet {
 public:
  PatternSet() = default;
  // patternmatcher.New. Throws Error(invalid_argument) naming the pattern.
  explicit PatternSet(const std::vector<std::string>& patterns);

  bool exclusions() const noexcept { return exclusions_; }
  std::size_t size() const noexcept { return patterns_.size(); }
  const std::vector<Pattern>& patterns() const noexcept { return patterns_; }

  // MatchesUsingParentResults. parent is null at the top level; out receives
  // this path's per-pattern results (to pass to its children).
  bool match_with_parent(std::string_view path, const std::vector<std::uint8_t>* parent,
                         std::vector<std::uint8_t>& out) const;
  // MatchesOrParentMatches.
  bool matches_or_parent_matches(std::string_view path) const;
  // The walk's test for descending into an excluded directory: some
  // exception pattern, as text, starts with "dir/".
  bool exception_below(std::string_view dir) const;

 private:
  std::vector<Pattern> patterns_;
  bool exclusions_ = false;
};

}  // namespace kiln::context

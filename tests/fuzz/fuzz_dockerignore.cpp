// .dockerignore reader and matcher. Input: the ignore file's text, then
// "\0\0", then paths separated by "\0". Every path is matched the way the
// walk does (parent results passed down) and the way the CLI's single-path
// check does; neither may crash, hang or throw anything but kiln::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "context/ignore.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto split = input.find(std::string_view("\0\0", 2));
  std::string_view text = input.substr(0, split);
  std::string_view rest = split == std::string_view::npos ? std::string_view() : input.substr(split + 2);

  std::vector<std::string> patterns;
  kiln::context::PatternSet set;
  try {
    patterns = kiln::context::read_dockerignore(text);
    set = kiln::context::PatternSet(patterns);
  } catch (const kiln::Error&) {
    return 0;
  }
  // The reader's output is already normalised: reading it again changes nothing.
  std::string again;
  for (const auto& p : patterns) again += p + "\n";
  try {
    if (kiln::context::read_dockerignore(again) != patterns) {
      // Only patterns with whitespace, control or non-ASCII bytes, or a
      // leading '#' may read differently the second time.
      bool explained = false;
      for (const auto& p : patterns) {
        if (!p.empty() && p[0] == '#') explained = true;
        for (unsigned char c : p) {
          if (c < 0x21 || c > 0x7e) explained = true;
        }
      }
      if (!explained) __builtin_trap();
    }
  } catch (const kiln::Error&) {
  }

  while (!rest.empty()) {
    auto nul = rest.find('\0');
    std::string path(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    if (path.empty() || path.size() > 4096) continue;
    std::string cleaned = kiln::context::go_clean(path);
    if (cleaned == "." || cleaned[0] == '/' || cleaned.rfind("..", 0) == 0) continue;
    (void)set.matches_or_parent_matches(cleaned);
    std::vector<std::uint8_t> parent, info;
    std::string prefix;
    std::size_t start = 0;
    bool first = true;
    while (start <= cleaned.size()) {
      auto slash = cleaned.find('/', start);
      prefix = cleaned.substr(0, slash);
      (void)set.match_with_parent(prefix, first ? nullptr : &parent, info);
      (void)set.exception_below(prefix);
      parent.swap(info);
      first = false;
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }
  return 0;
}

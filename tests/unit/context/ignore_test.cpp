// The .dockerignore reader and matcher against moby's rules. The Docker
// daemon itself is the ground truth in tests/integration/context; these pin
// the corner cases down without a daemon.
#include <doctest/doctest.h>

#include <string>

#include "context/ignore.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

using kiln::context::go_clean;
using kiln::context::Pattern;
using kiln::context::PatternSet;
using kiln::context::read_dockerignore;

namespace {
bool m(const char* pattern, const char* path) { return Pattern(pattern, false).match(path); }
bool excluded(const std::string& ignore, const char* path) { return kiln::IgnoreMatcher::parse(ignore).excluded(path); }
std::string error_of(const std::string& ignore) {
  try {
    kiln::IgnoreMatcher::parse(ignore);
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::invalid_argument);
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("go_clean is Go's filepath.Clean") {
  CHECK(go_clean("") == ".");
  CHECK(go_clean("./a/") == "a");
  CHECK(go_clean("a//b/./c/..") == "a/b");
  CHECK(go_clean("../a") == "../a");
  CHECK(go_clean("/../a") == "/a");
  CHECK(go_clean("a/../..") == "..");
  CHECK(go_clean("/") == "/");
}

TEST_CASE("read_dockerignore normalises lines as Docker's ReadAll") {
  auto p = read_dockerignore("\xEF\xBB\xBF# comment\r\n  a.txt  \r\n\n!  /b/../c/\n/d\n./e\n #f\n!\n\t\n");
  REQUIRE(p.size() == 6);
  CHECK(p[0] == "a.txt");
  CHECK(p[1] == "!c");
  CHECK(p[2] == "d");
  CHECK(p[3] == "e");
  CHECK(p[4] == "#f");  // only a '#' in the first column starts a comment
  CHECK(p[5] == "!");
  CHECK(read_dockerignore("/\n")[0] == "/");
}

TEST_CASE("a line longer than Go's scanner takes is an error naming the line") {
  std::string text = "a\n" + std::string(70000, 'x') + "\n";
  CHECK_THROWS_WITH_AS(read_dockerignore(text), doctest::Contains("line 2"), kiln::Error);
}

TEST_CASE("patterns: exact, prefix, suffix and regular-expression forms") {
  CHECK(m("a.txt", "a.txt"));
  CHECK_FALSE(m("a.txt", "aXtxt"));  // '.' is literal
  CHECK(m("a/**", "a/b/c"));
  CHECK(m("a**", "abc/d"));
  CHECK(m("**/foo", "foo"));
  CHECK(m("**/foo", "x/y/foo"));
  CHECK_FALSE(m("**/foo", "xfoo"));
  CHECK(m("**foo", "xfoo"));  // moby's suffix fast path
  CHECK(m("**", "anything/at/all"));
  CHECK(m("*.go", "main.go"));
  CHECK_FALSE(m("*.go", "cmd/main.go"));  // '*' stops at '/'
  CHECK(m("**/*.go", "cmd/main.go"));
  CHECK(m("**/*.go", "main.go"));
  CHECK(m("a/**/b", "a/b"));
  CHECK(m("a/**/b", "a/x/y/b"));
  CHECK(m("data?.csv", "data1.csv"));
  CHECK_FALSE(m("data?.csv", "data/.csv"));
  CHECK(m("data[12].csv", "data2.csv"));
  CHECK(m("data[0-9].csv", "data7.csv"));
  CHECK_FALSE(m("data[^1].csv", "data1.csv"));
  CHECK(m("data[^1].csv", "dataX.csv"));
  CHECK(m("a[^x]b", "a/b"));          // a negated class matches '/' (Go's regexp)
  CHECK(m("data[!1].csv", "data1.csv"));  // '!' is not negation
  CHECK(m("data[!1].csv", "data!.csv"));
  CHECK(m("\\[x\\].txt", "[x].txt"));
  CHECK(m("a+b", "a+b"));
  CHECK_FALSE(m("a+b", "aab"));
  CHECK(m("(x)", "(x)"));
  CHECK(m("x\\d", "x7"));              // escapes become regexp escapes
  CHECK_FALSE(m("a/**/x", "a/b\nc/x"));  // ".*" does not cross a newline
  CHECK(m("**/x", "a\nb/x"));            // the suffix fast path does
  CHECK(m("*", "a\nb"));               // '[^/]*' does
  CHECK(m("[[:digit:]]", "5"));
  CHECK(m("caf\xC3\xA9?", "caf\xC3\xA9x"));
}

TEST_CASE("malformed patterns are errors naming the pattern") {
  CHECK(error_of("[a\n").find("\"[a\"") != std::string::npos);
  CHECK(error_of("a\\\n").find("backslash") != std::string::npos);
  CHECK(error_of("[]\n").find("malformed") != std::string::npos);
  CHECK(error_of("[z-a]\n").find("range") != std::string::npos);
  CHECK(error_of("!\n").find("without a pattern") != std::string::npos);
  CHECK(error_of("!/\n").find("without a pattern") != std::string::npos);  // Clean("!/") == "!"
  CHECK(error_of("\\b\n").find("escape") != std::string::npos);
  CHECK(error_of("ok\n[\n").find("\"[\"") != std::string::npos);
}

TEST_CASE("exceptions: last match wins, parents exclude their contents") {
  CHECK(excluded("*\n!src\n", "main.go"));
  CHECK_FALSE(excluded("*\n!src\n", "src"));
  CHECK_FALSE(excluded("*\n!src\n", "src/a/b.py"));
  CHECK(excluded("build\n", "build/x/y.o"));
  CHECK_FALSE(excluded("build\n!build/keep\n", "build/keep/f"));
  CHECK(excluded("a.txt\n!a.txt\na.txt\n", "a.txt"));
  CHECK_FALSE(excluded("!a.txt\n", "a.txt"));
  CHECK(excluded("**/node_modules\n", "a/b/node_modules/c/d.js"));
  CHECK_FALSE(excluded("node_modules\n", "a/node_modules/x"));
  CHECK(excluded("/a.txt\n", "a.txt"));
  CHECK(excluded("a.txt/\n", "a.txt"));  // a trailing slash does not mean "directories only"
}

TEST_CASE("MatchesUsingParentResults keeps moby's per-pattern inheritance") {
  // "q", "!q/x", "q": the last "q" is skipped for q (already excluded), so
  // q/x does not inherit it and only matches it against its own name: the
  // walk sends q/x and all below it. Docker (23 and later) does the same;
  // MatchesOrParentMatches alone would exclude it.
  PatternSet set({"q", "!q/x", "q"});
  std::vector<std::uint8_t> q, qx, out;
  CHECK(set.match_with_parent("q", nullptr, q));
  CHECK(set.exception_below("q"));
  CHECK_FALSE(set.match_with_parent("q/x", &q, qx));
  CHECK_FALSE(set.match_with_parent("q/x/y", &qx, out));
  CHECK(set.matches_or_parent_matches("q/x/y"));
  CHECK_FALSE(set.exception_below("src"));
}

TEST_CASE("matching stays linear on hostile patterns") {
  std::string pattern;
  for (int i = 0; i < 200; ++i) pattern += "*a";
  pattern += "b";
  Pattern p(pattern, false);
  std::string path(5000, 'a');
  CHECK_FALSE(p.match(path));
  Pattern deep(std::string(2000, '?'), false);
  CHECK(deep.match(std::string(2000, 'x')));
}

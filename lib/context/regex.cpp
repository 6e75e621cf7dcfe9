#include "context/regex.hpp"

#include <algorithm>

#include "kiln/error.hpp"

namespace kiln::context {

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int need = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
      need = 1, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      need = 2, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      need = 3, cp = b0 & 0x07, min = 0x10000;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    bool ok = i + static_cast<std::size_t>(need) < s.size();
    if (ok) {
      for (int k = 1; k <= need; ++k) {
        auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (b & 0x3F);
      }
    }
    if (!ok || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += need + 1;
  }
  return out;
}

bool Regex::Set::contains(char32_t c) const {
  // ranges are sorted and disjoint
  auto it = std::upper_bound(ranges.begin(), ranges.end(), c, [](char32_t v, const Range& r) { return v < r.lo; });
  bool in = it != ranges.begin() && std::prev(it)->hi >= c;
  return in != negated;
}

namespace {

constexpr char32_t kMaxRune = 0x10FFFF;

using Ranges = std::vector<std::pair<char32_t, char32_t>>;

Ranges normalise(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (auto& x : r) {
    if (!out.empty() && x.first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, x.second);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

Ranges complement(const Ranges& in) {
  auto r = normalise(in);
  Ranges out;
  char32_t next = 0;
  for (auto& x : r) {
    if (x.first > next) out.push_back({next, x.first - 1});
    next = x.second + 1;
  }
  if (next <= kMaxRune) out.push_back({next, kMaxRune});
  return out;
}

[[noreturn]] void bad(const std::string& what) { throw Error(Errc::invalid_argument, what); }

}  // namespace

class Regex::Parser {
 public:
  Parser(Regex& re, const std::u32string& expr) : re_(re), e_(expr) {}

  int parse() {
    Frag f = concat();
    if (pos_ != e_.size()) bad("unexpected ')' in the regular expression the pattern becomes");
    int m = add(Op::match);
    patch(f, m);
    return f.start;
  }

 private:
  struct Frag {
    int start;
    std::vector<std::pair<int, bool>> outs;
  };

  int add(Op op, int set = -1) {
    re_.states_.push_back(State{op, set, -1, -1});
    return static_cast<int>(re_.states_.size() - 1);
  }
  void patch(const Frag& f, int target) {
    for (auto [i, second] : f.outs) (second ? re_.states_[i].out1 : re_.states_[i].out) = target;
  }
  Frag epsilon() {
    int s = add(Op::split);
    return {s, {{s, false}}};
  }
  Frag set_frag(Ranges r, bool negated) {
    Set set;
    for (auto& x : normalise(std::move(r))) set.ranges.push_back({x.first, x.second});
    set.negated = negated;
    re_.sets_.push_back(std::move(set));
    int s = add(Op::character, static_cast<int>(re_.sets_.size() - 1));
    return {s, {{s, false}}};
  }

  bool at_end() const { return pos_ >= e_.size(); }
  char32_t peek() const { return e_[pos_]; }

  Frag concat() {
    bool have = false;
    Frag acc{-1, {}};
    while (!at_end() && peek() != U')') {
      Frag f = repeat();
      if (!have) {
        acc = std::move(f);
        have = true;
      } else {
        patch(acc, f.start);
        acc.outs = std::move(f.outs);
      }
    }
    return have ? acc : epsilon();
  }

  Frag repeat() {
    Frag f = atom();
    bool quantified = false;
    while (!at_end() && (peek() == U'*' || peek() == U'+' || peek() == U'?')) {
      if (quantified) {
        // "*?" etc. are RE2's non-greedy forms: the same set of matches.
        if (peek() == U'?') {
          ++pos_;
          if (!at_end() && (peek() == U'*' || peek() == U'+' || peek() == U'?')) bad("invalid nested repetition operator");
          break;
        }
        bad("invalid nested repetition operator");
      }
      char32_t q = e_[pos_++];
      int s = add(Op::split);
      re_.states_[s].out = f.start;
      if (q == U'*') {
        patch(f, s);
        f = Frag{s, {{s, true}}};
      } else if (q == U'+') {
        patch(f, s);
        f = Frag{f.start, {{s, true}}};
      } else {
        f.outs.push_back({s, true});
        f.start = s;
      }
      quantified = true;
    }
    return f;
  }

  Frag atom() {
    char32_t c = e_[pos_++];
    switch (c) {
      case U'(': {
        Frag f = concat();
        if (at_end()) bad("missing closing ')'");
        ++pos_;
        return f;
      }
      case U'[':
        return char_class();
      case U'.':
        return set_frag({{U'\n', U'\n'}}, true);
      case U'^': {
        int s = add(Op::begin);
        return {s, {{s, false}}};
      }
      case U'$': {
        int s = add(Op::end);
        return {s, {{s, false}}};
      }
      case U'*':
      case U'+':
      case U'?':
        bad("missing argument to repetition operator");
      case U'|':
        bad("alternation '|' is not supported");
      case U'\\': {
        if (at_end()) bad("trailing backslash at end of expression");
        char32_t n = e_[pos_];
        if (n == U'A') {
          ++pos_;
          int s = add(Op::begin);
          return {s, {{s, false}}};
        }
        if (n == U'z') {
          ++pos_;
          int s = add(Op::end);
          return {s, {{s, false}}};
        }
        Ranges r;
        bool negated = false;
        escape(r, negated);
        return set_frag(std::move(r), negated);
      }
      default:
        return set_frag({{c, c}}, false);
    }
  }

  // After a backslash: a literal, a control character or a Perl class.
  void escape(Ranges& r, bool& negated) {
    char32_t n = e_[pos_++];
    auto perl = [&](char32_t lower) -> Ranges {
      if (lower == U'd') return {{U'0', U'9'}};
      if (lower == U's') return {{U'\t', U'\n'}, {U'\f', U'\r'}, {U' ', U' '}};
      return {{U'0', U'9'}, {U'A', U'Z'}, {U'_', U'_'}, {U'a', U'z'}};
    };
    switch (n) {
      case U'd':
      case U's':
      case U'w':
        r = perl(n);
        return;
      case U'D':
      case U'S':
      case U'W':
        r = perl(n + 32);
        negated = true;
        return;
      case U'a': r = {{7, 7}}; return;
      case U'f': r = {{12, 12}}; return;
      case U't': r = {{9, 9}}; return;
      case U'n': r = {{10, 10}}; return;
      case U'r': r = {{13, 13}}; return;
      case U'v': r = {{11, 11}}; return;
      default:
        break;
    }
    if (n < 0x80 && !((n >= U'0' && n <= U'9') || (n >= U'a' && n <= U'z') || (n >= U'A' && n <= U'Z'))) {
      r = {{n, n}};
      return;
    }
    std::string shown = n < 0x80 ? std::string(1, static_cast<char>(n)) : "non-ASCII character";
    bad("escape sequence '\\" + shown + "' (Docker turns it into a regular-expression escape that kiln does not support)");
  }

  Frag char_class() {
    bool negated = false;
    if (!at_end() && peek() == U'^') {
      negated = true;
      ++pos_;
    }
    Ranges items;
    bool first = true;
    for (;;) {
      if (at_end()) bad("missing closing ']'");
      char32_t c = peek();
      if (c == U']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == U'[' && pos_ + 1 < e_.size() && e_[pos_ + 1] == U':') {
        if (posix_class(items)) continue;
      }
      char32_t lo;
      if (c == U'\\') {
        ++pos_;
        if (at_end()) bad("trailing backslash in a character class");
        Ranges r;
        bool neg = false;
        escape(r, neg);
        if (neg) r = complement(r);
        if (r.size() != 1 || r[0].first != r[0].second) {
          items.insert(items.end(), r.begin(), r.end());
          continue;
        }
        lo = r[0].first;
      } else {
        lo = c;
        ++pos_;
      }
      char32_t hi = lo;
      if (pos_ + 1 < e_.size() && peek() == U'-' && e_[pos_ + 1] != U']') {
        ++pos_;
        char32_t h = e_[pos_];
        if (h == U'\\') {
          ++pos_;
          if (at_end()) bad("trailing backslash in a character class");
          Ranges r;
          bool neg = false;
          escape(r, neg);
          if (neg || r.size() != 1 || r[0].first != r[0].second) bad("invalid character class range");
          h = r[0].first;
        } else {
          ++pos_;
        }
        hi = h;
        if (hi < lo) bad("invalid character class range");
      }
      items.push_back({lo, hi});
    }
    return set_frag(std::move(items), negated);
  }

  // "[:alpha:]" and "[:^alpha:]" inside a class; false if not one.
  bool posix_class(Ranges& items) {
    auto close = e_.find(U":]", pos_ + 2);
    if (close == std::u32string::npos) return false;
    std::u32string name = e_.substr(pos_ + 2, close - pos_ - 2);
    bool neg = !name.empty() && name[0] == U'^';
    if (neg) name.erase(0, 1);
    static const std::pair<const char32_t*, Ranges> table[] = {
        {U"alnum", {{U'0', U'9'}, {U'A', U'Z'}, {U'a', U'z'}}},
        {U"alpha", {{U'A', U'Z'}, {U'a', U'z'}}},
        {U"ascii", {{0, 0x7F}}},
        {U"blank", {{U'\t', U'\t'}, {U' ', U' '}}},
        {U"cntrl", {{0, 0x1F}, {0x7F, 0x7F}}},
        {U"digit", {{U'0', U'9'}}},
        {U"graph", {{U'!', U'~'}}},
        {U"lower", {{U'a', U'z'}}},
        {U"print", {{U' ', U'~'}}},
        {U"punct", {{U'!', U'/'}, {U':', U'@'}, {U'[', U'`'}, {U'{', U'~'}}},
        {U"space", {{U'\t', U'\r'}, {U' ', U' '}}},
        {U"upper", {{U'A', U'Z'}}},
        {U"word", {{U'0', U'9'}, {U'A', U'Z'}, {U'_', U'_'}, {U'a', U'z'}}},
        {U"xdigit", {{U'0', U'9'}, {U'A', U'F'}, {U'a', U'f'}}},
    };
    for (auto& [n, r] : table) {
      if (name == n) {
        Ranges add = neg ? complement(r) : r;
        items.insert(items.end(), add.begin(), add.end());
        pos_ = close + 2;
        return true;
      }
    }
    bad("invalid character class range (unknown POSIX class)");
  }

  Regex& re_;
  const std::u32string& e_;
  std::size_t pos_ = 0;
};

Regex::Regex(const std::u32string& expression) {
  Parser parser(*this, expression);
  start_ = parser.parse();
}

bool Regex::full_match(std::string_view text) const {
  std::u32string runes = decode_utf8(text);
  const std::size_t n = states_.size();
  std::vector<int> current, next;
  std::vector<std::size_t> mark(n, static_cast<std::size_t>(-1));
  std::vector<int> stack;
  bool matched = false;

  auto add = [&](std::vector<int>& list, int s, std::size_t pos, std::size_t generation) {
    stack.push_back(s);
    while (!stack.empty()) {
      int i = stack.back();
      stack.pop_back();
      if (i < 0 || mark[i] == generation) continue;
      mark[i] = generation;
      const State& st = states_[i];
      switch (st.op) {
        case Op::split:
          stack.push_back(st.out1);
          stack.push_back(st.out);
          break;
        case Op::begin:
          if (pos == 0) stack.push_back(st.out);
          break;
        case Op::end:
          if (pos == runes.size()) stack.push_back(st.out);
          break;
        case Op::match:
          matched = true;
          break;
        case Op::character:
          list.push_back(i);
          break;
      }
    }
  };

  add(current, start_, 0, 0);
  for (std::size_t pos = 0; pos < runes.size() && !current.empty(); ++pos) {
    next.clear();
    matched = false;
    for (int i : current) {
      const State& st = states_[i];
      if (sets_[st.set].contains(runes[pos])) add(next, st.out, pos + 1, pos + 1);
    }
    std::swap(current, next);
  }
  // Every expression ends in '$', so the match state is reachable only at the
  // end of the text: `matched` tells whether the last step reached it.
  return matched;
}

}  // namespace kiln::context

// The grammar is docker/distribution's reference package (reference.go), the
// one every registry client agrees on; normalization follows docker's
// normalize.go (Docker Hub host and "library/" prefix).
#include "kiln/image_ref.hpp"

#include "kiln/error.hpp"

namespace kiln {
namespace {

constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

[[noreturn]] void fail(std::string_view input, const std::string& what) {
  std::string shown(input.substr(0, 300));
  if (input.size() > 300) shown += "...";
  throw Error(Errc::invalid_argument, "invalid image reference \"" + shown + "\": " + what);
}

// domain-component := [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  for (char ch : c) {
    if (!is_alnum(ch) && ch != '-') return false;
  }
  return true;
}

// host [":" port]; host is a domain name, IPv4 or a bracketed IPv6 address.
std::string check_domain(std::string_view input, std::string_view domain) {
  std::string_view host = domain;
  std::string_view port;
  if (!domain.empty() && domain.front() == '[') {
    auto close = domain.find(']');
    if (close == std::string_view::npos) return "IPv6 host \"" + std::string(domain) + "\" has no closing ']'";
    auto inside = domain.substr(1, close - 1);
    if (inside.empty()) return "IPv6 host is empty";
    for (char c : inside) {
      bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return "IPv6 host \"" + std::string(inside) + "\" contains '" + c + "'";
    }
    host = domain.substr(0, close + 1);
    auto rest = domain.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "unexpected text after IPv6 host";
      port = rest.substr(1);
      if (port.empty()) return "registry port is empty";
    }
  } else {
    auto colon = domain.rfind(':');
    if (colon != std::string_view::npos) {
      host = domain.substr(0, colon);
      port = domain.substr(colon + 1);
      if (port.empty()) return "registry port is empty in \"" + std::string(domain) + "\"";
    }
    std::size_t start = 0;
    while (true) {
      auto dot = host.find('.', start);
      auto component = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (!valid_domain_component(component)) {
        return "registry host \"" + std::string(host) + "\" is not a valid host name";
      }
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  for (char c : port) {
    if (!is_digit(c)) return "registry port \"" + std::string(port) + "\" is not a number";
  }
  if (port.size() > 5) return "registry port \"" + std::string(port) + "\" is out of range";
  (void)input;
  return {};
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
std::string check_path_component(std::string_view component) {
  if (component.empty()) return "repository path has an empty component (check for '//' or a trailing '/')";
  auto bad = [&](const std::string& why) {
    return "repository path component \"" + std::string(component) + "\" " + why;
  };
  for (char c : component) {
    if (c >= 'A' && c <= 'Z') return bad("must be lower case");
  }
  if (!is_lower_alnum(component.front()) || !is_lower_alnum(component.back())) {
    return bad("must start and end with a lower-case letter or digit");
  }
  std::size_t i = 0;
  while (i < component.size()) {
    if (is_lower_alnum(component[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < component.size() && !is_lower_alnum(component[j])) ++j;
    auto sep = component.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) {
      return bad("has the invalid separator \"" + std::string(sep) + "\" (allowed: '.', '_', '__', '-')");
    }
    i = j;
  }
  return {};
}

// Docker's rule: the first component is a registry when it looks like a host.
bool looks_like_domain(std::string_view first) {
  if (first == "localhost") return true;
  for (char c : first) {
    if (c == '.' || c == ':' || (c >= 'A' && c <= 'Z') || c == '[') return true;
  }
  return false;
}

}  // namespace

ImageRef ImageRef::parse_impl(std::string_view text, bool default_tag) {
  if (text.empty()) fail(text, "reference is empty");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) fail(text, "contains whitespace or a control character");
  }
  std::string_view rest = text;
  std::optional<Digest> digest;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest_text = rest.substr(at + 1);
    try {
      digest = Digest::parse(digest_text);
    } catch (const Error& e) {
      fail(text, e.what());
    }
    rest = rest.substr(0, at);
  }
  std::string_view tag;
  // A tag is after the last ':' that follows the last '/'; a ':' before it
  // belongs to the registry port.
  auto last_slash = rest.rfind('/');
  auto last_colon = rest.rfind(':');
  if (last_colon != std::string_view::npos && (last_slash == std::string_view::npos || last_colon > last_slash)) {
    tag = rest.substr(last_colon + 1);
    rest = rest.substr(0, last_colon);
    if (tag.empty()) fail(text, "tag is empty after ':'");
    if (tag.size() > kMaxTagLength) fail(text, "tag is longer than 128 characters");
    if (!is_word(tag.front())) fail(text, "tag \"" + std::string(tag) + "\" must start with a letter, digit or '_'");
    for (char c : tag) {
      if (!is_word(c) && c != '.' && c != '-') {
        fail(text, "tag \"" + std::string(tag) + "\" contains '" + std::string(1, c) + "' (allowed: letters, digits, '_', '.', '-')");
      }
    }
  }
  if (rest.empty()) fail(text, "repository name is empty");

  std::string registry;
  std::string_view path = rest;
  auto slash = rest.find('/');
  if (slash != std::string_view::npos && looks_like_domain(rest.substr(0, slash))) {
    auto domain = rest.substr(0, slash);
    if (auto problem = check_domain(text, domain); !problem.empty()) fail(text, problem);
    registry = std::string(domain);
    path = rest.substr(slash + 1);
  }
  if (path.empty()) fail(text, "repository path is empty");

  std::size_t start = 0;
  while (true) {
    auto next = path.find('/', start);
    auto component = path.substr(start, next == std::string_view::npos ? std::string_view::npos : next - start);
    if (auto problem = check_path_component(component); !problem.empty()) fail(text, problem);
    if (next == std::string_view::npos) break;
    start = next + 1;
  }

  std::string repository(path);
  if (registry.empty() || registry == "index.docker.io" || registry == kDockerHubApiHost) {
    registry = std::string(kDockerHubRegistry);
  }
  if (registry == kDockerHubRegistry && repository.find('/') == std::string::npos) {
    repository = "library/" + repository;
  }
  if (registry.size() + 1 + repository.size() > kMaxNameLength) {
    fail(text, "name is longer than 255 characters");
  }

  std::string tag_string(tag);
  if (tag_string.empty() && !digest && default_tag) tag_string = "latest";
  if (!default_tag && (!tag_string.empty() || digest)) {
    fail(text, "a repository name must not carry a tag or digest");
  }
  ImageRef ref;
  ref.registry_ = std::move(registry);
  ref.repository_ = std::move(repository);
  ref.tag_ = std::move(tag_string);
  ref.digest_ = std::move(digest);
  return ref;
}

ImageRef ImageRef::parse(std::string_view text) { return parse_impl(text, true); }

ImageRef ImageRef::parse_repository(std::string_view text) { return parse_impl(text, false); }

std::string ImageRef::reference() const { return digest_ ? digest_->str() : tag_; }

std::string ImageRef::name() const { return registry_ + "/" + repository_; }

std::string ImageRef::str() const {
  std::string out = name();
  if (!tag_.empty()) out += ":" + tag_;
  if (digest_) out += "@" + digest_->str();
  return out;
}

ImageRef ImageRef::with_tag(std::string tag) const {
  ImageRef copy = *this;
  copy.tag_ = std::move(tag);
  return copy;
}

ImageRef ImageRef::with_digest(Digest digest) const {
  ImageRef copy = *this;
  if (digest.empty()) {
    copy.digest_.reset();
  } else {
    copy.digest_ = std::move(digest);
  }
  return copy;
}

}  // namespace kiln

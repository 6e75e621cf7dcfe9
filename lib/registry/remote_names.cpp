#include "registry/remote_names.hpp"

#include "kiln/digest.hpp"
#include "kiln/error.hpp"
#include "registry/json_util.hpp"

namespace kiln::registry_detail {
namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
bool valid_component(const std::string& s) {
  if (s.empty() || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  for (std::size_t i = 0; i < s.size();) {
    if (lower_alnum(s[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < s.size() && !lower_alnum(s[i])) ++i;
    std::string sep = s.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

}  // namespace

void check_repository(const std::string& repository) {
  if (repository.empty()) throw Error(Errc::invalid_argument, "empty repository name");
  if (repository.size() > 255) {
    throw Error(Errc::invalid_argument, "repository name \"" + shorten(repository) + "\" is longer than 255 characters");
  }
  std::size_t start = 0;
  while (true) {
    auto slash = repository.find('/', start);
    std::string component = repository.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!valid_component(component)) {
      throw Error(Errc::invalid_argument, "repository name \"" + shorten(repository) + "\": component \"" +
                                              shorten(component) +
                                              "\" must be lower-case letters and digits separated by '.', '_', "
                                              "'__' or '-'");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

void check_reference(const std::string& reference) {
  if (Digest::is_valid(reference)) return;
  if (reference.find(':') != std::string::npos) Digest::parse(reference);  // throws naming the bad part
  bool ok = !reference.empty() && reference.size() <= 128 && reference.front() != '.' && reference.front() != '-';
  for (char c : reference) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-')) {
      ok = false;
    }
  }
  if (!ok) {
    throw Error(Errc::invalid_argument, "tag \"" + shorten(reference) +
                                            "\" is invalid: up to 128 letters, digits, '_', '.' and '-', not "
                                            "starting with '.' or '-'");
  }
}

}  // namespace kiln::registry_detail

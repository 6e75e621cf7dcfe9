// Label and field selectors as the API server parses them
// (k8s.io/apimachinery/pkg/labels and pkg/fields).
#include <fmt/format.h>

#include "kiln/kube.hpp"

namespace kiln::kube {

namespace {

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A qualified name part: [A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?, at most 63.
bool qualified_part(std::string_view s) {
  if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

bool dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return alnum(s.front()) && alnum(s.back());
}

void check_key(std::string_view key) {
  auto slash = key.find('/');
  bool ok = slash == std::string_view::npos ? qualified_part(key)
                                            : dns_subdomain(key.substr(0, slash)) && qualified_part(key.substr(slash + 1));
  if (!ok)
    throw Error(Errc::invalid_argument,
                fmt::format("label key \"{}\" is invalid: [prefix/]name, name at most 63 characters of "
                            "[A-Za-z0-9-_.] starting and ending alphanumeric, prefix a DNS subdomain",
                            key));
}

void check_value(std::string_view key, std::string_view value) {
  if (!value.empty() && !qualified_part(value))
    throw Error(Errc::invalid_argument,
                fmt::format("label value \"{}\" (key \"{}\") is invalid: at most 63 characters of [A-Za-z0-9-_.], "
                            "starting and ending alphanumeric",
                            value, key));
}

std::string set_term(std::string_view key, const char* op, const std::vector<std::string>& values) {
  check_key(key);
  if (values.empty())
    throw Error(Errc::invalid_argument, fmt::format("label selector \"{} {}\" needs at least one value", key, op));
  std::string term = fmt::format("{} {} (", key, op);
  for (std::size_t i = 0; i < values.size(); ++i) {
    check_value(key, values[i]);
    term += (i ? "," : "") + values[i];
  }
  return term + ")";
}

std::string escape_field_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

void check_field(std::string_view field) {
  if (field.empty()) throw Error(Errc::invalid_argument, "field selector: empty field name");
  for (char c : field)
    if (!(alnum(c) || c == '.' || c == '-' || c == '_'))
      throw Error(Errc::invalid_argument, fmt::format("field selector: \"{}\" is not a field path like metadata.name", field));
}

std::string join(const std::vector<std::string>& terms) {
  std::string out;
  for (const auto& t : terms) out += (out.empty() ? "" : ",") + t;
  return out;
}

}  // namespace

LabelSelector& LabelSelector::equals(std::string_view key, std::string_view value) {
  check_key(key);
  check_value(key, value);
  terms_.push_back(fmt::format("{}={}", key, value));
  return *this;
}
LabelSelector& LabelSelector::not_equals(std::string_view key, std::string_view value) {
  check_key(key);
  check_value(key, value);
  terms_.push_back(fmt::format("{}!={}", key, value));
  return *this;
}
LabelSelector& LabelSelector::in(std::string_view key, const std::vector<std::string>& values) {
  terms_.push_back(set_term(key, "in", values));
  return *this;
}
LabelSelector& LabelSelector::not_in(std::string_view key, const std::vector<std::string>& values) {
  terms_.push_back(set_term(key, "notin", values));
  return *this;
}
LabelSelector& LabelSelector::exists(std::string_view key) {
  check_key(key);
  terms_.emplace_back(key);
  return *this;
}
LabelSelector& LabelSelector::not_exists(std::string_view key) {
  check_key(key);
  terms_.push_back("!" + std::string(key));
  return *this;
}
std::string LabelSelector::str() const { return join(terms_); }

FieldSelector& FieldSelector::equals(std::string_view field, std::string_view value) {
  check_field(field);
  terms_.push_back(fmt::format("{}={}", field, escape_field_value(value)));
  return *this;
}
FieldSelector& FieldSelector::not_equals(std::string_view field, std::string_view value) {
  check_field(field);
  terms_.push_back(fmt::format("{}!={}", field, escape_field_value(value)));
  return *this;
}
std::string FieldSelector::str() const { return join(terms_); }

}  // namespace kiln::kube

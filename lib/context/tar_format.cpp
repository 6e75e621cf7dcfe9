#include "context/tar_format.hpp"

#include <algorithm>
#include <cstring>

namespace kiln::context {
namespace {

constexpr std::uint64_t kMaxOctal11 = 077777777777ULL;

void put_octal(char* field, std::size_t width, std::uint64_t value) {
  // width includes the terminating NUL; zero-padded like "%0*llo" (callers
  // keep values within width - 1 digits). By hand: snprintf was a visible
  // share of archiving 100k small files.
  field[width - 1] = '\0';
  for (std::size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
}

void put_string(char* field, std::size_t width, const std::string& value) {
  std::memcpy(field, value.data(), std::min(width, value.size()));
}

std::string pax_record(const std::string& key, const std::string& value) {
  // "<len> key=value\n" where len counts itself.
  std::size_t base = key.size() + value.size() + 3;
  std::size_t len = base + std::to_string(base).size();
  if (std::to_string(len).size() != std::to_string(base).size()) len = base + std::to_string(len).size();
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

void append_block(std::string& out, const std::string& name, char type, std::uint32_t mode, std::uint64_t size,
                  std::int64_t mtime, const std::string& link) {
  char b[512];
  std::memset(b, 0, sizeof b);
  put_string(b, 100, name);
  put_octal(b + 100, 8, mode & 07777);
  put_octal(b + 108, 8, 0);
  put_octal(b + 116, 8, 0);
  put_octal(b + 124, 12, size);
  put_octal(b + 136, 12, static_cast<std::uint64_t>(mtime < 0 ? 0 : std::min<std::int64_t>(mtime, kMaxOctal11)));
  std::memset(b + 148, ' ', 8);
  b[156] = type;
  put_string(b + 157, 100, link);
  std::memcpy(b + 257, "ustar", 6);
  std::memcpy(b + 263, "00", 2);
  unsigned sum = 0;
  for (unsigned char c : b) sum += c;
  put_octal(b + 148, 7, sum);
  b[155] = ' ';
  out.append(b, sizeof b);
}

}  // namespace

void append_tar_header(std::string& out, const TarHeader& h) {
  std::string pax;
  if (h.name.size() > 100) pax += pax_record("path", h.name);
  if (h.link_target.size() > 100) pax += pax_record("linkpath", h.link_target);
  if (h.size > kMaxOctal11) pax += pax_record("size", std::to_string(h.size));
  if (!pax.empty()) {
    // The extended header's own name only has to be unique-looking and
    // deterministic; readers use the records.
    std::string base = h.name;
    while (!base.empty() && base.back() == '/') base.pop_back();
    auto slash = base.rfind('/');
    if (slash != std::string::npos) base = base.substr(slash + 1);
    base = base.substr(0, 80);
    for (char& c : base) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x80) c = '_';
    }
    std::string pax_name = "PaxHeaders/" + base;
    append_block(out, pax_name, 'x', 0644, pax.size(), h.mtime, {});
    out += pax;
    out.append(tar_padding(pax.size()), '\0');
  }
  append_block(out, h.name.substr(0, 100), h.type, h.mode, h.size > kMaxOctal11 ? 0 : h.size, h.mtime,
               h.link_target.substr(0, 100));
}

}  // namespace kiln::context

#include "context/tar_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "context/walk.hpp"
#include "kiln/error.hpp"

namespace kiln::context {
namespace {

constexpr std::size_t kBlock = 512;

[[noreturn]] void bad(std::size_t offset, std::string_view name, const std::string& what) {
  throw Error(Errc::invalid_argument, "malformed tar archive: " + what + " (member '" +
                                          printable(name.substr(0, 200)) + "' at byte " + std::to_string(offset) +
                                          ")");
}

std::string_view field(const char* block, std::size_t offset, std::size_t width) {
  std::string_view f(block + offset, width);
  auto nul = f.find('\0');
  return nul == std::string_view::npos ? f : f.substr(0, nul);
}

// Octal with optional spaces/NULs around it, or GNU base-256 (high bit set).
bool parse_number(const char* block, std::size_t offset, std::size_t width, std::uint64_t& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(block + offset);
  if (p[0] & 0x80) {
    if (p[0] != 0x80) return false;  // negative or huge: not a valid size or time here
    std::uint64_t v = 0;
    for (std::size_t i = 1; i < width; ++i) {
      if (v >> 56) return false;
      v = (v << 8) | p[i];
    }
    out = v;
    return true;
  }
  std::size_t i = 0;
  while (i < width && (p[i] == ' ' || p[i] == 0)) ++i;
  std::uint64_t v = 0;
  bool digits = false;
  for (; i < width && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) return false;
    v = v * 8 + (p[i] - '0');
    digits = true;
  }
  for (; i < width; ++i) {
    if (p[i] != ' ' && p[i] != 0) return false;
  }
  out = digits ? v : 0;
  return true;
}

bool checksum_ok(const char* block) {
  std::uint64_t stored = 0;
  if (!parse_number(block, 148, 8, stored)) return false;
  unsigned sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
  }
  return stored == sum;
}

// "<len> key=value\n" records of a pax extended header.
void parse_pax(std::string_view text, std::size_t offset, std::string& path, std::string& link, bool& has_size,
               std::uint64_t& size) {
  while (!text.empty()) {
    auto space = text.find(' ');
    if (space == std::string_view::npos || space == 0 || space > 20) bad(offset, "", "bad pax record length");
    std::uint64_t len = 0;
    for (char c : text.substr(0, space)) {
      if (c < '0' || c > '9') bad(offset, "", "bad pax record length");
      len = len * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (len <= space + 1 || len > text.size() || text[len - 1] != '\n') bad(offset, "", "bad pax record");
    std::string_view record = text.substr(space + 1, len - space - 2);
    auto eq = record.find('=');
    if (eq == std::string_view::npos) bad(offset, "", "pax record without '='");
    std::string_view key = record.substr(0, eq), value = record.substr(eq + 1);
    if (key == "path") {
      path = std::string(value);
    } else if (key == "linkpath") {
      link = std::string(value);
    } else if (key == "size") {
      std::uint64_t v = 0;
      if (value.empty() || value.size() > 19) bad(offset, "", "bad pax size");
      for (char c : value) {
        if (c < '0' || c > '9') bad(offset, "", "bad pax size");
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      has_size = true;
      size = v;
    }
    text.remove_prefix(len);
  }
}

}  // namespace

std::string maybe_gunzip(std::string bytes, std::uint64_t max_bytes) {
  if (bytes.size() < 2 || static_cast<unsigned char>(bytes[0]) != 0x1f || static_cast<unsigned char>(bytes[1]) != 0x8b) {
    if (bytes.size() > max_bytes) throw Error(Errc::too_large, "tar archive is larger than the limit");
    return bytes;
  }
  std::string out;
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw Error(Errc::internal, "zlib could not start");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  zs.next_in = reinterpret_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(bytes.size(), 1u << 30));
  std::size_t consumed_total = 0;
  char buf[1 << 16];
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_bytes) throw Error(Errc::too_large, "decompressed tar archive is larger than the limit");
    if (rc == Z_STREAM_END) {
      consumed_total = static_cast<std::size_t>(reinterpret_cast<char*>(zs.next_in) - bytes.data());
      // Concatenated members form one stream (RFC 1952), as kiln writes them.
      if (consumed_total == bytes.size()) break;
      if (bytes.size() - consumed_total < 2 || static_cast<unsigned char>(bytes[consumed_total]) != 0x1f) {
        break;  // trailing garbage after the last member is ignored, as gzip -d does with zeros
      }
      inflateReset(&zs);
      zs.next_in = reinterpret_cast<Bytef*>(bytes.data() + consumed_total);
      zs.avail_in = static_cast<uInt>(std::min<std::size_t>(bytes.size() - consumed_total, 1u << 30));
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      std::size_t at = static_cast<std::size_t>(reinterpret_cast<char*>(zs.next_in) - bytes.data());
      if (at < bytes.size()) {
        zs.avail_in = static_cast<uInt>(std::min<std::size_t>(bytes.size() - at, 1u << 30));
        continue;
      }
      throw Error(Errc::invalid_argument, "gzip'd tar archive is truncated");
    }
    if (rc != Z_OK) {
      throw Error(Errc::invalid_argument,
                  std::string("gzip'd tar archive is corrupt: ") + (zs.msg ? zs.msg : "inflate failed"));
    }
  }
  return out;
}

std::vector<TarMember> read_tar(std::string_view archive) {
  std::vector<TarMember> members;
  std::string long_name, long_link, pax_path, pax_link;
  bool pax_has_size = false;
  std::uint64_t pax_size = 0;
  std::size_t offset = 0;
  while (offset + kBlock <= archive.size()) {
    const char* b = archive.data() + offset;
    if (std::all_of(b, b + kBlock, [](char c) { return c == 0; })) return members;  // end marker
    std::string_view raw_name = field(b, 0, 100);
    if (!checksum_ok(b)) bad(offset, raw_name, "header checksum mismatch");
    std::uint64_t mode = 0, size = 0, mtime = 0;
    if (!parse_number(b, 100, 8, mode)) bad(offset, raw_name, "bad mode field");
    if (!parse_number(b, 124, 12, size)) bad(offset, raw_name, "bad size field");
    if (!parse_number(b, 136, 12, mtime)) mtime = 0;  // a negative or odd time is not worth refusing
    char type = b[156];
    if (pax_has_size) size = pax_size;
    std::size_t data_at = offset + kBlock;
    if (size > archive.size() - data_at) bad(offset, raw_name, "content runs past the end of the archive");
    std::string_view data = archive.substr(data_at, static_cast<std::size_t>(size));
    std::size_t next = data_at + static_cast<std::size_t>(size) + static_cast<std::size_t>((kBlock - size % kBlock) % kBlock);
    if (next > archive.size()) next = archive.size();

    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (type == 'x') {
        parse_pax(data, offset, pax_path, pax_link, pax_has_size, pax_size);
      } else if (type == 'L') {
        long_name = std::string(field(data.data(), 0, data.size()));
      } else if (type == 'K') {
        long_link = std::string(field(data.data(), 0, data.size()));
      }
      // 'g' (global pax records) carries nothing a context needs.
      offset = next;
      continue;
    }

    TarMember m;
    if (!pax_path.empty()) {
      m.path = std::move(pax_path);
    } else if (!long_name.empty()) {
      m.path = std::move(long_name);
    } else {
      m.path = std::string(raw_name);
      std::string_view magic(b + 257, 5);
      std::string_view prefix = field(b, 345, 155);
      if (magic == "ustar" && b[262] == '\0' && !prefix.empty()) m.path = std::string(prefix) + "/" + m.path;
    }
    if (!pax_link.empty()) {
      m.link = std::move(pax_link);
    } else if (!long_link.empty()) {
      m.link = std::move(long_link);
    } else {
      m.link = std::string(field(b, 157, 100));
    }
    pax_path.clear(), pax_link.clear(), long_name.clear(), long_link.clear();
    pax_has_size = false;
    if (m.path.empty()) bad(offset, raw_name, "empty name");
    m.type = type == '\0' || type == '7' ? '0' : type;
    m.mode = static_cast<std::uint32_t>(mode & 07777);
    m.mtime = static_cast<std::int64_t>(std::min<std::uint64_t>(mtime, INT64_MAX));
    if (m.type == '0') m.data = std::string(data);
    members.push_back(std::move(m));
    offset = next;
  }
  if (offset != archive.size()) bad(offset, "", "archive ends inside a header block");
  return members;  // no end marker: accepted, as GNU tar does with a warning
}

}  // namespace kiln::context

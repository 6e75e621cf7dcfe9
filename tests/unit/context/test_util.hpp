// Helpers for the context tests: temporary trees and a small tar reader
// (ustar + PAX, gzip with several members) to check what kiln wrote.
#pragma once

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ctxtest {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kiln-ctx-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::string cmd = "chmod -R u+rwx '" + path.string() + "' 2>/dev/null; rm -rf '" + path.string() + "'";
    (void)std::system(cmd.c_str());
  }
  std::string str() const { return path.string(); }
};

inline void write(const fs::path& p, const std::string& content, mode_t mode = 0644) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  ::chmod(p.c_str(), mode);
}

struct TarEntry {
  std::string name;
  char type;
  unsigned mode;
  std::uint64_t size;
  std::int64_t mtime;
  std::string link;
  std::string content;
};

inline std::uint64_t octal(const char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + static_cast<unsigned>(p[i] - '0');
  return v;
}

// Throws on a malformed archive (bad checksum, truncation, missing end).
inline std::vector<TarEntry> read_tar(const std::string& data) {
  std::vector<TarEntry> out;
  std::map<std::string, std::string> pax;
  std::size_t pos = 0;
  for (;;) {
    if (pos + 512 > data.size()) throw std::runtime_error("tar truncated");
    const char* h = data.data() + pos;
    if (std::string(h, 512) == std::string(512, '\0')) {
      if (pos + 1024 > data.size()) throw std::runtime_error("tar end marker truncated");
      return out;
    }
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    if (sum != octal(h + 148, 8)) throw std::runtime_error("tar checksum mismatch");
    if (std::string(h + 257, 5) != "ustar") throw std::runtime_error("not ustar");
    TarEntry e;
    e.name = std::string(h, strnlen(h, 100));
    e.type = h[156];
    e.mode = static_cast<unsigned>(octal(h + 100, 8));
    e.size = octal(h + 124, 12);
    e.mtime = static_cast<std::int64_t>(octal(h + 136, 12));
    e.link = std::string(h + 157, strnlen(h + 157, 100));
    pos += 512;
    if (pax.count("size")) e.size = std::stoull(pax["size"]);
    if (pos + e.size > data.size()) throw std::runtime_error("tar content truncated");
    e.content = data.substr(pos, e.size);
    pos += (e.size + 511) / 512 * 512;
    if (e.type == 'x') {
      std::size_t p = 0;
      while (p < e.content.size()) {
        std::size_t sp = e.content.find(' ', p);
        std::size_t len = std::stoul(e.content.substr(p, sp - p));
        std::string rec = e.content.substr(sp + 1, len - (sp - p) - 2);
        auto eq = rec.find('=');
        pax[rec.substr(0, eq)] = rec.substr(eq + 1);
        p += len;
      }
      continue;
    }
    if (pax.count("path")) e.name = pax["path"];
    if (pax.count("linkpath")) e.link = pax["linkpath"];
    pax.clear();
    out.push_back(std::move(e));
  }
}

// Inflates every gzip member in turn.
inline std::string gunzip(const std::string& data) {
  std::string out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    z_stream z{};
    if (inflateInit2(&z, 31) != Z_OK) throw std::runtime_error("inflateInit2");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + pos));
    z.avail_in = static_cast<uInt>(data.size() - pos);
    char buf[65536];
    int rc;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        inflateEnd(&z);
        throw std::runtime_error("bad gzip data");
      }
      out.append(buf, sizeof buf - z.avail_out);
    } while (rc != Z_STREAM_END);
    pos = data.size() - z.avail_in;
    inflateEnd(&z);
  }
  return out;
}

}  // namespace ctxtest

// The tar stream: format, determinism, gzip, sinks, events, cancellation and
// files that change while they are archived.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "kiln/build_context.hpp"
#include "kiln/error.hpp"
#include "test_util.hpp"

using namespace ctxtest;
using kiln::DirectoryContext;

namespace {
void tree(const fs::path& root) {
  write(root / "Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
  write(root / "a.txt", "hello");
  write(root / "bin/tool", "#!/bin/sh\n", 0755);
  fs::create_directories(root / "empty");
  fs::create_symlink("a.txt", root / "link");
}
std::string tar_of(DirectoryContext& ctx, kiln::TarOptions options = {}) {
  kiln::MemorySink sink;
  ctx.write_tar(sink, options);
  return sink.take();
}
}  // namespace

TEST_CASE("the tar has every entry with its type, mode, size, mtime and content") {
  TempDir dir;
  tree(dir.path);
  DirectoryContext ctx(dir.str());
  auto entries = read_tar(tar_of(ctx));
  REQUIRE(entries.size() == 6);
  CHECK(entries[0].name == "Dockerfile");
  CHECK(entries[1].name == "a.txt");
  CHECK(entries[1].content == "hello");
  CHECK(entries[1].mode == 0644);
  CHECK(entries[1].mtime == ctx.entries()[1].mtime);
  CHECK(entries[2].name == "bin/");
  CHECK(entries[2].type == '5');
  CHECK(entries[3].name == "bin/tool");
  CHECK(entries[3].mode == 0755);
  CHECK(entries[4].name == "empty/");
  CHECK(entries[5].type == '2');
  CHECK(entries[5].link == "a.txt");
}

TEST_CASE("streams are deterministic; zero_mtimes makes them independent of the clock") {
  TempDir a, b;
  tree(a.path);
  tree(b.path);
  DirectoryContext ca(a.str()), cb(b.str());
  CHECK(tar_of(ca) == tar_of(ca));
  kiln::TarOptions zero;
  zero.zero_mtimes = true;
  struct timespec t[2] = {{12345, 0}, {12345, 0}};
  ::utimensat(AT_FDCWD, (b.path / "a.txt").c_str(), t, 0);
  cb.rescan();
  auto za = tar_of(ca, zero), zb = tar_of(cb, zero);
  CHECK(za == zb);
  for (const auto& e : read_tar(za)) CHECK(e.mtime == 0);
}

TEST_CASE("long names and link targets use PAX headers") {
  TempDir dir;
  tree(dir.path);
  std::string long_dir(120, 'd');
  std::string long_name = long_dir + "/" + std::string(150, 'f');
  write(dir.path / long_name, "long");
  std::string target(300, 't');
  fs::create_symlink(target, dir.path / "longlink");
  DirectoryContext ctx(dir.str());
  auto entries = read_tar(tar_of(ctx));
  bool name_ok = false, link_ok = false;
  for (const auto& e : entries) {
    if (e.name == long_name) name_ok = e.content == "long";
    if (e.name == "longlink") link_ok = e.link == target;
  }
  CHECK(name_ok);
  CHECK(link_ok);
}

TEST_CASE("gzip output inflates to the plain stream at every level and thread count") {
  TempDir dir;
  tree(dir.path);
  std::string big;
  for (int i = 0; i < 300000; ++i) big += "line " + std::to_string(i) + "\n";  // several 1 MiB blocks
  write(dir.path / "big.txt", big);
  DirectoryContext ctx(dir.str());
  std::string plain = tar_of(ctx);
  for (int level : {0, 1, 6, 9}) {
    for (unsigned threads : {1u, 2u, 3u}) {
      kiln::TarOptions gz;
      gz.gzip = true;
      gz.gzip_level = level;
      gz.threads = threads;
      std::string compressed = tar_of(ctx, gz);
      CHECK(static_cast<unsigned char>(compressed[0]) == 0x1f);
      CHECK(gunzip(compressed) == plain);
      if (level > 0) CHECK(compressed.size() < plain.size() / 2);
    }
  }
  kiln::TarOptions gz;
  gz.gzip = true;
  CHECK(tar_of(ctx, gz) == tar_of(ctx, gz));
}

TEST_CASE("fd and callback sinks receive the same bytes") {
  TempDir dir, out;
  tree(dir.path);
  DirectoryContext ctx(dir.str());
  std::string plain = tar_of(ctx);
  int fd = ::open((out.path / "ctx.tar").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  kiln::FdSink fd_sink(fd);
  ctx.write_tar(fd_sink);
  ::close(fd);
  std::ifstream in(out.path / "ctx.tar", std::ios::binary);
  std::string from_file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(from_file == plain);
  std::string collected;
  kiln::CallbackSink cb([&](const void* d, std::size_t n) {
    collected.append(static_cast<const char*>(d), n);
    return true;
  });
  ctx.write_tar(cb);
  CHECK(collected == plain);
  kiln::CallbackSink refuse([](const void*, std::size_t) { return false; });
  CHECK_THROWS_AS(ctx.write_tar(refuse), kiln::Error);
  kiln::FdSink closed(-1);
  try {
    ctx.write_tar(closed);
    FAIL("no error for a bad descriptor");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::io);
  }
}

TEST_CASE("progress events count files and bytes; a sink returning false cancels") {
  TempDir dir;
  tree(dir.path);
  DirectoryContext ctx(dir.str());
  std::vector<kiln::Event> events;
  kiln::MemorySink sink;
  ctx.write_tar(sink, {}, [&](const kiln::Event& e) {
    events.push_back(e);
    return true;
  });
  REQUIRE(!events.empty());
  CHECK(events.back().type == "context.done");
  CHECK(events.back().json.find("\"files\":6") != std::string::npos);
  CHECK(events.back().json.find("\"bytes\":" + std::to_string(sink.data().size())) != std::string::npos);
  kiln::MemorySink other;
  try {
    ctx.write_tar(other, {}, [](const kiln::Event&) { return false; });
    FAIL("not cancelled");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::cancelled);
  }
}

TEST_CASE("a triggered cancel token stops streaming and hashing") {
  TempDir dir;
  tree(dir.path);
  DirectoryContext ctx(dir.str());
  kiln::CancelToken cancel;
  cancel.cancel();
  kiln::MemorySink sink;
  try {
    ctx.write_tar(sink, {}, {}, cancel);
    FAIL("not cancelled");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::cancelled);
  }
  DirectoryContext fresh(dir.str());
  try {
    fresh.version({}, {}, cancel);
    FAIL("not cancelled");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == kiln::Errc::cancelled);
  }
}

TEST_CASE("a file that changes size while archived is an error, not a corrupt tar") {
  TempDir dir;
  tree(dir.path);
  write(dir.path / "0-big.bin", std::string(3 << 20, 'x'));  // flushes to the sink before z.bin is read
  // Larger than what is read ahead on another thread: read when its turn comes.
  const std::string original(300 * 1024, 'z');
  write(dir.path / "z.bin", original);
  for (const char* change : {"shrink", "grow"}) {
    DirectoryContext ctx(dir.str());
    ctx.entries();
    bool changed = false;
    std::string received;
    kiln::CallbackSink sink([&](const void* d, std::size_t n) {
      received.append(static_cast<const char*>(d), n);
      if (!changed) {
        changed = true;
        write(dir.path / "z.bin", std::string(change) == "shrink" ? "short" : original + original);
      }
      return true;
    });
    try {
      ctx.write_tar(sink);
      FAIL("no error");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == kiln::Errc::io);
      CHECK(std::string(e.what()).find("z.bin") != std::string::npos);
      CHECK(std::string(e.what()).find(change == std::string("shrink") ? "shrank" : "grew") != std::string::npos);
    }
    CHECK_THROWS(read_tar(received));  // no end marker: a reader cannot take it for complete
    // The failed call forgot its walk: retrying the same context works.
    kiln::MemorySink retry;
    CHECK_NOTHROW(ctx.write_tar(retry));
    CHECK_NOTHROW(read_tar(retry.data()));
    write(dir.path / "z.bin", original);
  }
}

TEST_CASE("small files changed after the walk are errors too, on every thread count") {
  TempDir dir;
  tree(dir.path);
  for (int i = 0; i < 50; ++i) write(dir.path / ("f" + std::to_string(i)), std::string(100 + i, 'f'));
  for (unsigned threads : {1u, 2u}) {
    DirectoryContext ctx(dir.str());
    ctx.entries();
    write(dir.path / "f30", "changed");
    kiln::TarOptions options;
    options.threads = threads;
    options.gzip = threads == 2;
    kiln::MemorySink sink;
    try {
      ctx.write_tar(sink, options);
      FAIL("no error");
    } catch (const kiln::Error& e) {
      CHECK(e.code() == kiln::Errc::io);
      CHECK(std::string(e.what()).find("'f30'") != std::string::npos);
    }
    write(dir.path / "f30", std::string(130, 'f'));
    // Unchanged: the same bytes whichever thread read the files.
    DirectoryContext again(dir.str());
    kiln::MemorySink one, two;
    kiln::TarOptions single, dual;
    single.threads = 1;
    dual.threads = 2;
    again.write_tar(one, single);
    again.write_tar(two, dual);
    CHECK(one.data() == two.data());
    CHECK(read_tar(one.data()).size() == 56);
  }
}

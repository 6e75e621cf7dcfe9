// DirectoryContext: entries, forced files, errors for bad input, the content
// version and the stat cache.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "context/stat_cache.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"
#include "test_util.hpp"

using namespace ctxtest;
using kiln::DirectoryContext;
using kiln::Errc;

namespace {

std::vector<std::string> paths(DirectoryContext& ctx) {
  std::vector<std::string> out;
  for (const auto& e : ctx.entries()) out.push_back(e.path);
  return out;
}

void basic_tree(const fs::path& root) {
  write(root / "Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
  write(root / "a.txt", "a");
  write(root / "src/main.go", "package main");
  write(root / "src/run.sh", "#!/bin/sh\n", 0755);
  write(root / "node_modules/x/index.js", "x");
  fs::create_directories(root / "empty");
  fs::create_symlink("src/main.go", root / "link");
}

void set_mtime(const fs::path& p, std::time_t t) {
  struct timespec times[2] = {{t, 0}, {t, 0}};
  REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

kiln::Errc code_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const kiln::Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return Errc::ok;
}

}  // namespace

TEST_CASE("entries come in Docker's walk order with types and modes") {
  TempDir dir;
  basic_tree(dir.path);
  write(dir.path / ".dockerignore", "node_modules\n");
  DirectoryContext ctx(dir.str());
  CHECK(paths(ctx) == std::vector<std::string>{".dockerignore", "Dockerfile", "a.txt", "empty", "link", "src",
                                               "src/main.go", "src/run.sh"});
  const auto& e = ctx.entries();
  CHECK(e[3].type == kiln::EntryType::directory);
  CHECK(e[4].type == kiln::EntryType::symlink);
  CHECK(e[4].link_target == "src/main.go");
  CHECK(e[7].mode == 0755);
  CHECK(e[2].size == 1);
  CHECK(ctx.dockerfile() == "Dockerfile");
  CHECK(ctx.ignore_patterns() == std::vector<std::string>{"node_modules"});
}

TEST_CASE("the Dockerfile and .dockerignore are sent even when ignored, and marked forced") {
  TempDir dir;
  basic_tree(dir.path);
  write(dir.path / ".dockerignore", "*\n!src\n");
  DirectoryContext ctx(dir.str());
  CHECK(paths(ctx) == std::vector<std::string>{".dockerignore", "Dockerfile", "src", "src/main.go", "src/run.sh"});
  CHECK(ctx.entries()[0].forced);
  CHECK(ctx.entries()[1].forced);
  CHECK_FALSE(ctx.entries()[2].forced);
}

TEST_CASE("a Dockerfile inside an excluded directory is still sent") {
  TempDir dir;
  basic_tree(dir.path);
  write(dir.path / "ci/Dockerfile.ci", "FROM scratch\n");
  write(dir.path / "ci/other", "x");
  write(dir.path / ".dockerignore", "ci\n");
  DirectoryContext ctx(dir.str(), "ci/Dockerfile.ci");
  auto p = paths(ctx);
  CHECK(std::find(p.begin(), p.end(), "ci/Dockerfile.ci") != p.end());
  CHECK(std::find(p.begin(), p.end(), "ci/other") == p.end());
  CHECK(std::find(p.begin(), p.end(), "ci") == p.end());  // as Docker: the directory header is not sent
}

TEST_CASE("<Dockerfile>.dockerignore next to the Dockerfile takes precedence") {
  TempDir dir;
  basic_tree(dir.path);
  write(dir.path / ".dockerignore", "a.txt\n");
  write(dir.path / "Dockerfile.dockerignore", "src\n");
  DirectoryContext ctx(dir.str());
  auto p = paths(ctx);
  CHECK(std::find(p.begin(), p.end(), "a.txt") != p.end());
  CHECK(std::find(p.begin(), p.end(), "src/main.go") == p.end());
}

TEST_CASE("a Dockerfile outside the root travels under a deterministic name") {
  TempDir dir, elsewhere;
  basic_tree(dir.path);
  write(elsewhere.path / "Dockerfile.remote", "FROM scratch\n");
  DirectoryContext ctx(dir.str(), (elsewhere.path / "Dockerfile.remote").string());
  CHECK(ctx.dockerfile().rfind(".kiln-dockerfile.", 0) == 0);
  CHECK(ctx.dockerfile().size() == std::string(".kiln-dockerfile.").size() + 12);
  const auto& e = ctx.entries();
  CHECK(e.back().path == ctx.dockerfile());
  CHECK(e.back().forced);
  kiln::MemorySink sink;
  ctx.write_tar(sink);
  auto tar = read_tar(sink.data());
  bool saw_ignore = false;
  for (const auto& t : tar) {
    if (t.name == ".dockerignore") {
      saw_ignore = true;
      CHECK(t.content == ".dockerignore\n" + ctx.dockerfile() + "\n");
    }
    if (t.name == ctx.dockerfile()) CHECK(t.content == "FROM scratch\n");
  }
  CHECK(saw_ignore);
}

TEST_CASE("bad roots and Dockerfiles are clear errors") {
  TempDir dir, other;
  basic_tree(dir.path);
  std::string msg;
  CHECK(code_of([&] { DirectoryContext((dir.path / "nope").string()); }, &msg) == Errc::not_found);
  CHECK(msg.find("does not exist") != std::string::npos);
  CHECK(code_of([&] { DirectoryContext((dir.path / "a.txt").string()); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("not a directory") != std::string::npos);
  CHECK(code_of([&] { DirectoryContext(dir.str(), "Missing"); }, &msg) == Errc::not_found);
  CHECK(msg.find("Missing") != std::string::npos);
  CHECK(code_of([&] { DirectoryContext(dir.str(), "../Dockerfile"); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("leaves the build context") != std::string::npos);
  CHECK(code_of([&] { DirectoryContext(dir.str(), "src"); }, &msg) == Errc::invalid_argument);
  write(other.path / "Dockerfile", "FROM scratch\n");
  fs::create_symlink(other.path / "Dockerfile", dir.path / "Dockerfile.link");
  CHECK(code_of([&] { DirectoryContext(dir.str(), "Dockerfile.link"); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("symlink that leaves") != std::string::npos);
  write(dir.path / ".dockerignore", "ok\n[broken\n");
  CHECK(code_of([&] { DirectoryContext(dir.str()); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("[broken") != std::string::npos);
  CHECK(msg.find(".dockerignore") != std::string::npos);
}

TEST_CASE("symlinks are sent as symlinks, never followed, loops included") {
  TempDir dir;
  basic_tree(dir.path);
  fs::create_symlink("loop", dir.path / "loop");
  fs::create_symlink("b", dir.path / "a-link");
  fs::create_symlink("a-link", dir.path / "b");
  fs::create_symlink("/etc", dir.path / "etc-link");
  DirectoryContext ctx(dir.str());
  int symlinks = 0;
  for (const auto& e : ctx.entries()) {
    if (e.type == kiln::EntryType::symlink) ++symlinks;
    CHECK(e.path.rfind("etc-link/", 0) != 0);
  }
  CHECK(symlinks == 5);
  CHECK_NOTHROW(ctx.version());
}

TEST_CASE("special files are skipped with a warning event") {
  TempDir dir;
  basic_tree(dir.path);
  REQUIRE(::mkfifo((dir.path / "fifo").c_str(), 0644) == 0);
  DirectoryContext ctx(dir.str());
  std::vector<kiln::Event> events;
  auto p = [&] {
    std::vector<std::string> out;
    for (const auto& e : ctx.entries([&](const kiln::Event& ev) {
           events.push_back(ev);
           return true;
         }))
      out.push_back(e.path);
    return out;
  }();
  CHECK(std::find(p.begin(), p.end(), "fifo") == p.end());
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == "warning");
  CHECK(events[0].json.find("fifo") != std::string::npos);
}

TEST_CASE("names with newlines are archived; names that are not UTF-8 are refused") {
  TempDir dir;
  basic_tree(dir.path);
  write(dir.path / "new\nline.txt", "n");
  DirectoryContext ctx(dir.str());
  kiln::MemorySink sink;
  ctx.write_tar(sink);
  bool found = false;
  for (const auto& t : read_tar(sink.data())) found |= t.name == "new\nline.txt";
  CHECK(found);

  write(dir.path / "bad\xff.txt", "b");
  DirectoryContext bad(dir.str());
  std::string msg;
  CHECK(code_of([&] { bad.entries(); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("bad\\xff.txt") != std::string::npos);
  write(dir.path / ".dockerignore", "bad*\n");
  DirectoryContext ignored(dir.str());
  CHECK_NOTHROW(ignored.entries());
}

TEST_CASE("a 10,000-deep directory chain is a clear error, not a crash") {
  TempDir dir;
  write(dir.path / "Dockerfile", "FROM scratch\n");
  int fd = ::open(dir.str().c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  for (int i = 0; i < 10000; ++i) {
    REQUIRE(::mkdirat(fd, "d", 0755) == 0);
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    ::close(fd);
    REQUIRE(next >= 0);
    fd = next;
  }
  ::close(fd);
  DirectoryContext ctx(dir.str());
  std::string msg;
  CHECK(code_of([&] { ctx.entries(); }, &msg) == Errc::io);
  CHECK(msg.find("too long") != std::string::npos);
  CHECK(msg.find(".dockerignore") != std::string::npos);
  write(dir.path / ".dockerignore", "d\n");
  DirectoryContext ignored(dir.str());
  CHECK(ignored.entries().size() == 2);  // Dockerfile, .dockerignore
}

TEST_CASE("unreadable files and directories are errors naming the path") {
  TempDir dir;
  basic_tree(dir.path);
  write(dir.path / "secret.txt", "s", 0000);
  fs::create_directories(dir.path / "locked/inner");
  ::chmod(dir.path.c_str(), 0755);
  // Root reads everything: check as an unprivileged user in a child process.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    int status = 0;
    try {
      DirectoryContext ctx(dir.str());
      ctx.version();
      status = 1;  // no error: wrong
    } catch (const kiln::Error& e) {
      std::string m = e.what();
      status = (e.code() == Errc::io && m.find("secret.txt") != std::string::npos) ? 0 : 2;
    }
    ::_exit(status);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // A directory nobody may list.
  ::chmod((dir.path / "secret.txt").c_str(), 0644);
  ::chmod((dir.path / "locked").c_str(), 0000);
  pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    try {
      DirectoryContext ctx(dir.str());
      ctx.entries();
      ::_exit(1);
    } catch (const kiln::Error& e) {
      std::string m = e.what();
      ::_exit(e.code() == Errc::io && m.find("'locked'") != std::string::npos ? 0 : 2);
    }
  }
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the content version depends on content, paths, types and inputs only") {
  TempDir a, b;
  basic_tree(a.path);
  basic_tree(b.path);
  set_mtime(b.path / "a.txt", 1000000);
  auto version = [](const fs::path& root, kiln::VersionInputs in = {}) {
    DirectoryContext ctx(root.string());
    return ctx.version(in).version;
  };
  std::string v = version(a.path);
  CHECK(v.size() == 12);
  CHECK(v.rfind("v-", 0) == 0);
  CHECK(version(b.path) == v);  // another directory, other mtimes
  kiln::VersionInputs args;
  args.build_args["X"] = "1";
  CHECK(version(a.path, args) != v);
  kiln::VersionInputs target;
  target.target = "prod";
  CHECK(version(a.path, target) != v);
  kiln::VersionInputs platform;
  platform.platform = "linux/arm64";
  CHECK(version(a.path, platform) != v);

  write(b.path / "a.txt", "A");
  CHECK(version(b.path) != v);
  write(b.path / "a.txt", "a");
  CHECK(version(b.path) == v);
  ::chmod((b.path / "a.txt").c_str(), 0755);
  CHECK(version(b.path) != v);  // the executable bit counts
  ::chmod((b.path / "a.txt").c_str(), 0600);
  CHECK(version(b.path) == v);  // other mode bits do not
  fs::remove(b.path / "link");
  fs::create_symlink("a.txt", b.path / "link");
  CHECK(version(b.path) != v);
  fs::remove(b.path / "link");
  fs::create_symlink("src/main.go", b.path / "link");
  fs::create_directories(b.path / "empty2");
  CHECK(version(b.path) != v);  // empty directories are part of the image
  fs::remove(b.path / "empty2");
  write(b.path / ".dockerignore", "node_modules\n");
  CHECK(version(b.path) != v);
}

TEST_CASE("the stat cache skips unchanged files and notices every change") {
  TempDir dir, cache_dir;
  basic_tree(dir.path);
  std::time_t old = std::time(nullptr) - 100;
  for (auto& p : fs::recursive_directory_iterator(dir.path)) set_mtime(p.path(), old);
  kiln::ContextOptions options;
  options.stat_cache_path = (cache_dir.path / "stat-cache").string();
  // ctime is "now" right after writing: wait until it lies in a past second.
  std::time_t start = std::time(nullptr);
  while (std::time(nullptr) == start) ::usleep(20000);

  auto run = [&] {
    DirectoryContext ctx(dir.str(), "Dockerfile", options);
    return ctx.version();
  };
  auto first = run();
  CHECK(first.files_hashed == 5);
  CHECK(fs::exists(options.stat_cache_path));
  auto second = run();
  CHECK(second.files_hashed == 0);
  CHECK(second.version == first.version);

  // Same size, same mtime, new content: ctime and the racy rule catch it.
  write(dir.path / "a.txt", "b");
  set_mtime(dir.path / "a.txt", old);
  auto third = run();
  CHECK(third.files_hashed == 1);
  CHECK(third.version != first.version);

  write(dir.path / "a.txt", "a");
  auto fourth = run();
  CHECK(fourth.files_hashed == 1);
  CHECK(fourth.version == first.version);

  // A corrupt cache is ignored, not fatal.
  write(options.stat_cache_path, "garbage\n");
  CHECK(run().version == first.version);
}

TEST_CASE("stat cache entries from the scan's second or later are never trusted") {
  TempDir dir;
  std::string file = (dir.path / "cache").string();
  using kiln::context::StatCache;
  const std::int64_t scan = 2000000000;
  std::string hex(64, 'a');
  kiln::context::StatKey old_key{1, 1, (scan - 5) * 1000000000LL, (scan - 5) * 1000000000LL};
  kiln::context::StatKey racy_key{2, 1, scan * 1000000000LL + 5, scan * 1000000000LL + 5};
  CHECK(StatCache::storable(old_key, scan));
  CHECK_FALSE(StatCache::storable(racy_key, scan));
  StatCache::save(file, {{"old", old_key, hex}, {"racy", racy_key, hex}}, scan);
  auto loaded = StatCache::load(file);
  CHECK(loaded.size() == 2);
  CHECK(loaded.find("old", old_key) == hex);
  auto other_size = old_key;
  other_size.size = 2;
  CHECK(loaded.find("old", other_size).empty());
  CHECK(loaded.find("racy", racy_key).empty());  // mtime not older than the write time
  CHECK(loaded.find("missing", old_key).empty());
  write(file, "kiln-stat-cache 2 5\n1 2 3 4 short 1:x\n");
  CHECK(StatCache::load(file).size() == 0);
}

namespace {

// Big enough that one directory's files are hashed by several tasks, with
// an excluded directory walked for an exception below it.
void wide_tree(const fs::path& root) {
  write(root / "Dockerfile", "FROM scratch\n");
  write(root / ".dockerignore", "vendor\n!vendor/keep\n*.tmp\n");
  for (int i = 0; i < 700; ++i) write(root / "flat" / ("f" + std::to_string(i)), std::string(i % 97, 'x') + std::to_string(i));
  for (int d = 0; d < 30; ++d) {
    for (int i = 0; i < 5; ++i) {
      write(root / ("pkg" + std::to_string(d)) / "sub" / ("m" + std::to_string(i) + ".c"), std::to_string(d * i));
    }
  }
  write(root / "vendor/keep/k.txt", "k");
  write(root / "vendor/drop/d.txt", "d");
  write(root / "a.tmp", "ignored");
  write(root / "bin/tool", "#!/bin/sh\n", 0755);
  write(root / "empty-file", "");
  fs::create_symlink("flat/f1", root / "alias");
}

}  // namespace

TEST_CASE("the version is the same whether files are read during the walk or after, on any number of threads") {
  TempDir dir;
  wide_tree(dir.path);
  kiln::ContextOptions one;
  one.threads = 1;
  kiln::ContextOptions four;
  four.threads = 4;
  DirectoryContext serial(dir.str(), "Dockerfile", one);
  kiln::ContentVersion reference = serial.version();
  std::vector<std::string> reference_paths = paths(serial);
  CHECK(reference.files_hashed == 700 + 150 + 5);  // + keep, tool, empty-file, .dockerignore, Dockerfile
  CHECK(std::find(reference_paths.begin(), reference_paths.end(), "vendor/keep/k.txt") != reference_paths.end());
  CHECK(std::find(reference_paths.begin(), reference_paths.end(), "vendor") == reference_paths.end());
  CHECK(std::find(reference_paths.begin(), reference_paths.end(), "a.tmp") == reference_paths.end());

  for (int round = 0; round < 5; ++round) {
    DirectoryContext parallel(dir.str(), "Dockerfile", four);
    kiln::ContentVersion v = parallel.version();
    CHECK(v.digest == reference.digest);
    CHECK(v.files_hashed == reference.files_hashed);
    CHECK(paths(parallel) == reference_paths);
  }
  // Walked first (as for a file list), hashed afterwards.
  DirectoryContext walked(dir.str(), "Dockerfile", four);
  CHECK(paths(walked) == reference_paths);
  CHECK(walked.version().digest == reference.digest);
  // A stat cache that does not exist yet: read during the walk, then stored;
  // the second run reads nothing.
  kiln::ContextOptions cached = four;
  cached.stat_cache_path = (dir.path / ".." / (dir.path.filename().string() + ".cache")).string();
  {
    DirectoryContext first(dir.str(), "Dockerfile", cached);
    CHECK(first.version().digest == reference.digest);
  }
  // Entries from the current second are never stored: age the tree and
  // wait until its ctimes lie in a past second (the clock is coarse).
  for (const auto& e : fs::recursive_directory_iterator(dir.path)) set_mtime(e.path(), 1000000);
  std::time_t start = std::time(nullptr);
  while (std::time(nullptr) <= start + 1) ::usleep(20000);
  fs::remove(cached.stat_cache_path);
  {
    DirectoryContext first(dir.str(), "Dockerfile", cached);
    CHECK(first.version().digest == reference.digest);
  }
  DirectoryContext second(dir.str(), "Dockerfile", cached);
  kiln::ContentVersion again = second.version();
  CHECK(again.digest == reference.digest);
  CHECK(again.files_hashed == 0);
  fs::remove(cached.stat_cache_path);
}

TEST_CASE("the first error of a parallel walk is the one a serial walk meets first") {
  TempDir dir;
  wide_tree(dir.path);
  write(dir.path / "pkg1/sub/bad\xfe.c", "b");
  write(dir.path / "pkg7/bad\xff.c", "b");
  write(dir.path / "zzz/bad\xfd.c", "b");
  kiln::ContextOptions four;
  four.threads = 4;
  for (int round = 0; round < 10; ++round) {
    DirectoryContext ctx(dir.str(), "Dockerfile", four);
    std::string msg;
    CHECK(code_of([&] { ctx.version(); }, &msg) == Errc::invalid_argument);
    CHECK(msg.find("pkg1/sub/bad\\xfe.c") != std::string::npos);
  }
}

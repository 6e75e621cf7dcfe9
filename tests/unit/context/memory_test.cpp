// MemoryContext and TarballContext: the same tree in memory, in a tar made
// by GNU tar (gnu, pax and gzip'd formats) and on disk has the same entries,
// version and tar stream; malformed archives are errors naming the member.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "kiln/build_context.hpp"
#include "kiln/error.hpp"
#include "test_util.hpp"

using namespace ctxtest;
using kiln::Errc;

namespace {

void tree(const fs::path& root) {
  write(root / "Dockerfile", "FROM scratch\nCOPY . /app/\n");
  write(root / ".dockerignore", "vendor\n!vendor/keep\n*.log\n");
  write(root / "src/main.c", "int main() { return 0; }\n");
  write(root / "src/lib/util.py", "x = 1\n");
  write(root / "run.sh", "#!/bin/sh\n", 0755);
  write(root / "vendor/keep/k.txt", "k");
  write(root / "vendor/drop/d.txt", "d");
  write(root / "debug.log", "ignored");
  write(root / "docs/a b.md", "spaces");
  write(root / std::string(120, 'n') / "long-name-needs-an-extension.txt", "long");
  write(root / "empty-file", "");
  fs::create_directories(root / "empty-dir");
  fs::create_symlink("src/main.c", root / "link");
  fs::create_hard_link(root / "src/main.c", root / "hard.c");
}

struct Flat {
  std::string path;
  kiln::EntryType type;
  std::uint32_t mode;
  std::uint64_t size;
  std::int64_t mtime;
  std::string link;
  bool forced;
  friend bool operator==(const Flat&, const Flat&) = default;
};

std::vector<Flat> flat(kiln::BuildContext& ctx, bool with_mtimes = true) {
  std::vector<Flat> out;
  for (const auto& e : ctx.entries()) {
    out.push_back({e.path, e.type, e.mode, e.size, with_mtimes ? e.mtime : 0, e.link_target, e.forced});
  }
  return out;
}

std::string run_tar(const std::string& args) {
  int rc = std::system(("tar " + args + " 2>/dev/null").c_str());
  REQUIRE(rc == 0);
  return {};
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

std::string tar_bytes(kiln::BuildContext& ctx) {
  kiln::MemorySink sink;
  kiln::TarOptions options;
  options.zero_mtimes = true;
  ctx.write_tar(sink, options);
  return sink.take();
}

// One ustar header block with a correct checksum.
std::string header(const std::string& name, char type, std::size_t size) {
  std::string b(512, '\0');
  std::copy(name.begin(), name.end(), b.begin());
  std::snprintf(&b[100], 8, "%07o", 0644u);
  std::snprintf(&b[124], 12, "%011zo", size);
  std::snprintf(&b[136], 12, "%011o", 0u);
  b[156] = type;
  std::copy_n("ustar", 6, &b[257]);
  b[263] = '0', b[264] = '0';
  std::fill(&b[148], &b[156], ' ');
  unsigned sum = 0;
  for (unsigned char c : b) sum += c;
  std::snprintf(&b[148], 8, "%06o", sum);
  b[155] = ' ';
  return b;
}

std::string member(const std::string& name, const std::string& content, char type = '0') {
  std::string out = header(name, type, content.size()) + content;
  out.append((512 - content.size() % 512) % 512, '\0');
  return out;
}

}  // namespace

TEST_CASE("a tarball made by GNU tar has the directory's entries, version and stream") {
  TempDir dir, out;
  tree(dir.path);
  kiln::DirectoryContext disk(dir.str());
  kiln::VersionInputs inputs{{{"MODE", "prod"}}, "build", "linux/amd64"};
  auto disk_entries = flat(disk);
  auto disk_version = disk.version(inputs);
  std::string disk_tar = tar_bytes(disk);
  REQUIRE(std::find_if(disk_entries.begin(), disk_entries.end(), [](const Flat& f) { return f.path == "vendor/keep/k.txt"; }) !=
          disk_entries.end());

  for (const char* format : {"gnu", "pax", "ustar-gz"}) {
    CAPTURE(format);
    std::string archive = (out.path / (std::string(format) + ".tar")).string();
    if (std::string(format) == "ustar-gz") {
      // ustar cannot hold the 120-byte directory name: gzip'd pax instead.
      run_tar("--format=pax -czf '" + archive + "' -C '" + dir.str() + "' .");
    } else {
      run_tar("--format=" + std::string(format) + " -cf '" + archive + "' -C '" + dir.str() + "' .");
    }
    kiln::TarballContext tarball(archive);
    CHECK(tarball.dockerfile() == "Dockerfile");
    CHECK(tarball.ignore_patterns() == disk.ignore_patterns());
    CHECK(flat(tarball) == disk_entries);
    kiln::ContentVersion v = tarball.version(inputs);
    CHECK(v.digest == disk_version.digest);
    CHECK(v.version == disk_version.version);
    CHECK(tar_bytes(tarball) == disk_tar);
  }
  // Without "./" in front of the names, and read from memory.
  std::string archive = (out.path / "plain.tar").string();
  run_tar("-cf '" + archive + "' -C '" + dir.str() + "' Dockerfile .dockerignore src run.sh vendor debug.log docs " +
          std::string(120, 'n') + " empty-file empty-dir link hard.c");
  std::string bytes;
  {
    std::ifstream in(archive, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto from_memory = kiln::TarballContext::from_bytes(bytes);
  CHECK(from_memory.version(inputs).digest == disk_version.digest);
}

TEST_CASE("a memory context has the version of the same files on disk") {
  TempDir dir;
  write(dir.path / "Dockerfile", "FROM scratch\n");
  write(dir.path / ".dockerignore", "*.tmp\n");
  write(dir.path / "a/b/c.txt", "c");
  write(dir.path / "a/run", "#!/bin/sh\n", 0755);
  write(dir.path / "x.tmp", "ignored");
  fs::create_directories(dir.path / "empty");
  fs::create_symlink("a/b/c.txt", dir.path / "l");
  kiln::DirectoryContext disk(dir.str());

  std::map<std::string, kiln::MemoryFile> files;
  files["Dockerfile"] = {"FROM scratch\n"};
  files[".dockerignore"] = {"*.tmp\n"};
  files["a/b/c.txt"] = {"c"};
  files["./a/run"] = {"#!/bin/sh\n", kiln::EntryType::regular, 0755};
  files["x.tmp"] = {"ignored"};
  files["empty/"] = {"", kiln::EntryType::directory, 0755};
  files["l"] = {"a/b/c.txt", kiln::EntryType::symlink, 0777};
  kiln::MemoryContext memory(files);
  CHECK(flat(memory, false) == flat(disk, false));
  CHECK(memory.version().digest == disk.version().digest);
  CHECK(memory.version().files_hashed == 4);

  files["a/b/c.txt"] = {"changed"};
  CHECK(kiln::MemoryContext(files).version().digest != disk.version().digest);
  auto read = read_tar(tar_bytes(memory));
  REQUIRE(read.size() == flat(memory).size());
  CHECK(read[0].name == ".dockerignore");
  bool found = false;
  for (const auto& t : read) found |= t.name == "a/b/c.txt" && t.content == "c";
  CHECK(found);
}

TEST_CASE("bad memory contexts and archives are errors naming the bad part") {
  std::string msg;
  auto memory = [](std::map<std::string, kiln::MemoryFile> files, std::string dockerfile = "Dockerfile") {
    kiln::MemoryContext ctx(std::move(files), std::move(dockerfile));
  };
  CHECK(code_of([&] { memory({{"Dockerfile", {"x"}}, {"../evil", {"e"}}}); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("'../evil'") != std::string::npos);
  CHECK(code_of([&] { memory({{"Dockerfile", {"x"}}, {"/etc/passwd", {"e"}}}); }, &msg) == Errc::invalid_argument);
  CHECK(code_of([&] { memory({{"Dockerfile", {"x"}}, {"a", {"file"}}, {"a/b", {"below a file"}}}); }, &msg) ==
        Errc::invalid_argument);
  CHECK(msg.find("'a/b'") != std::string::npos);
  CHECK(code_of([&] { memory({{"a", {"x"}}}); }, &msg) == Errc::not_found);
  CHECK(msg.find("Dockerfile") != std::string::npos);
  CHECK(code_of([&] { memory({{"Dockerfile", {"x"}}}, "/abs/Dockerfile"); }, &msg) == Errc::invalid_argument);
  CHECK(code_of([&] { memory({{"Dockerfile", {"x"}}, {".dockerignore", {"!\n"}}}); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find(".dockerignore") != std::string::npos);

  std::string end(1024, '\0');
  std::string good = member("Dockerfile", "FROM scratch\n");
  CHECK_NOTHROW(kiln::TarballContext::from_bytes(good + end));
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(good + member("../evil", "e") + end); }, &msg) ==
        Errc::invalid_argument);
  CHECK(msg.find("'../evil'") != std::string::npos);
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(good + member("/etc/x", "e") + end); }, &msg) ==
        Errc::invalid_argument);
  std::string corrupt = member("bad.txt", "b");
  corrupt[0] = 'B';  // checksum no longer matches
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(good + corrupt + end); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("checksum") != std::string::npos);
  CHECK(msg.find("Bad.txt") != std::string::npos);
  std::string truncated = good + header("big.bin", '0', 100000) + std::string(512, 'x');
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(truncated); }, &msg) == Errc::invalid_argument);
  CHECK(msg.find("big.bin") != std::string::npos);
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(good + member("dev", "", '3') + member("sp", "", 'S') + end); },
                &msg) == Errc::invalid_argument);
  CHECK(msg.find("'sp'") != std::string::npos);
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(member("a", "x") + end); }, &msg) == Errc::not_found);
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(std::string("\x1f\x8b\x08\x00garbage", 12)); }, &msg) ==
        Errc::invalid_argument);
  CHECK(msg.find("gzip") != std::string::npos);
  CHECK(code_of([&] { kiln::TarballContext::from_bytes(good + end, "Dockerfile", 100); }, &msg) == Errc::too_large);
  CHECK(code_of([&] { kiln::TarballContext("/nonexistent/ctx.tar"); }, &msg) == Errc::not_found);
  CHECK(msg.find("/nonexistent/ctx.tar") != std::string::npos);

  // A device member is skipped with a warning naming it.
  auto ctx = kiln::TarballContext::from_bytes(good + member("dev/null", "", '3') + end);
  std::vector<std::string> warnings;
  auto entries = ctx.entries([&](const kiln::Event& e) {
    if (e.type == "warning") warnings.push_back(e.json);
    return true;
  });
  CHECK(entries.size() == 1);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("dev/null") != std::string::npos);
}

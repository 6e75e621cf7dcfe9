// TarballContext: a tar archive (plain or gzip'd) read into a MemoryContext.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "context/events_util.hpp"
#include "context/ignore.hpp"
#include "context/tar_reader.hpp"
#include "context/walk.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

namespace kiln {

using context::printable;

namespace {

std::string read_archive(const std::string& path, std::uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    throw Error(e == ENOENT ? Errc::not_found : Errc::io,
                "cannot open the tar archive '" + printable(path) + "': " + std::strerror(e));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(Errc::invalid_argument, "tar archive '" + printable(path) + "' is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw Error(Errc::too_large, "tar archive '" + printable(path) + "' is larger than the limit (" +
                                     std::to_string(max_bytes) + " bytes)");
  }
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      throw Error(Errc::io, "cannot read the tar archive '" + printable(path) + "': " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace

TarballContext::TarballContext(const std::string& archive_path, std::string dockerfile, std::uint64_t max_bytes) {
  try {
    *this = from_bytes(read_archive(archive_path, max_bytes), std::move(dockerfile), max_bytes);
  } catch (const Error& e) {
    std::string what = e.what();
    if (what.find(archive_path) != std::string::npos) throw;
    throw Error(e.code(), "tar archive '" + printable(archive_path) + "': " + what);
  }
}

TarballContext TarballContext::from_bytes(std::string archive, std::string dockerfile, std::uint64_t max_bytes) {
  std::string tar = context::maybe_gunzip(std::move(archive), max_bytes);
  std::vector<context::TarMember> members = context::read_tar(tar);
  tar = std::string();  // the members own copies of their contents
  TarballContext ctx;
  std::map<std::string, MemoryFile> files;
  for (auto& m : members) {
    std::string path = context::go_clean(m.path);
    if (path == ".") continue;  // the archive's own root ("./")
    if (path[0] == '/' || path == ".." || path.compare(0, 3, "../") == 0) {
      throw Error(Errc::invalid_argument,
                  "tar member '" + printable(m.path) + "' lies outside the context (absolute or '..')");
    }
    MemoryFile f;
    f.mode = m.mode;
    f.mtime = m.mtime;
    switch (m.type) {
      case '0':
        f.type = EntryType::regular;
        f.content = std::move(m.data);
        break;
      case '5':
        f.type = EntryType::directory;
        break;
      case '2':
        f.type = EntryType::symlink;
        f.content = m.link;
        break;
      case '1': {
        // A hard link: the content of the member it names (sent as a
        // separate regular file, as a directory context sends hard links).
        auto target = files.find(context::go_clean(m.link));
        if (target == files.end() || target->second.type != EntryType::regular) {
          throw Error(Errc::invalid_argument, "tar member '" + printable(m.path) + "' is a hard link to '" +
                                                  printable(m.link) + "', which is not a regular file before it");
        }
        f.type = EntryType::regular;
        f.content = target->second.content;
        break;
      }
      case '3':
      case '4':
      case '6':
        ctx.skipped_.push_back(path);
        continue;
      default:
        throw Error(Errc::invalid_argument, "tar member '" + printable(m.path) + "' has the unsupported type '" +
                                                printable(std::string(1, m.type)) + "'");
    }
    files[path] = std::move(f);  // a later member of the same name wins, as tar -x does
  }
  ctx.memory_ = std::make_unique<MemoryContext>(std::move(files), std::move(dockerfile));
  return ctx;
}

TarballContext::~TarballContext() = default;
TarballContext::TarballContext(TarballContext&&) noexcept = default;
TarballContext& TarballContext::operator=(TarballContext&&) noexcept = default;

const std::string& TarballContext::dockerfile() const { return memory_->dockerfile(); }
const std::vector<std::string>& TarballContext::ignore_patterns() const { return memory_->ignore_patterns(); }

const std::vector<ContextEntry>& TarballContext::entries(const EventSink& events, const CancelToken& cancel) {
  for (const auto& path : skipped_) {
    context::emit(events, "warning",
                  {{"message", "skipped special file (device or fifo) '" + printable(path) + "' in the tar archive: "
                                   "it is not sent"},
                   {"path", printable(path)}});
  }
  return memory_->entries(events, cancel);
}

ContentVersion TarballContext::version(const VersionInputs& inputs, const EventSink& events,
                                       const CancelToken& cancel) {
  return memory_->version(inputs, events, cancel);
}

void TarballContext::write_tar(ByteSink& sink, const TarOptions& options, const EventSink& events,
                               const CancelToken& cancel) {
  memory_->write_tar(sink, options, events, cancel);
}

}  // namespace kiln

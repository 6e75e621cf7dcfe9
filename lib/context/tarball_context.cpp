// TarballContext: a tar archive (plain or gzip'd) read into a MemoryContext.
#include "context/events_util.hpp"
#include "context/ignore.hpp"
#include "context/read_file.hpp"
#include "context/tar_reader.hpp"
#include "context/walk.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

namespace kiln {

using context::printable;

namespace {

std::string read_archive(const std::string& path, std::uint64_t max_bytes) {
  auto bytes = context::read_file(path, "tar archive", max_bytes);
  if (!bytes) throw Error(Errc::not_found, "cannot open the tar archive '" + printable(path) + "': it does not exist");
  return std::move(*bytes);
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

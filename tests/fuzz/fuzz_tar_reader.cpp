// The tar reader behind TarballContext (plain and gzip'd archives, ustar,
// pax, GNU long names, hard links) and the context built from it. Input: an
// archive. Nothing may crash, hang, allocate without bound or throw anything
// but kiln::Error; an archive that is accepted must also list, version and
// re-archive, and kiln's own archive of it must read back to the same version.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string archive(reinterpret_cast<const char*>(data), size);
  // A small limit: a gzip bomb must stop at it, not exhaust memory.
  constexpr std::uint64_t kLimit = 8u << 20;
  try {
    auto ctx = kiln::TarballContext::from_bytes(archive, "Dockerfile", kLimit);
    (void)ctx.entries();
    kiln::ContentVersion v = ctx.version();
    kiln::MemorySink sink;
    kiln::TarOptions options;
    options.zero_mtimes = true;
    ctx.write_tar(sink, options);
    auto again = kiln::TarballContext::from_bytes(sink.take(), ctx.dockerfile(), kLimit);
    if (again.version().digest != v.digest) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  return 0;
}

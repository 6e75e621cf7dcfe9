// kiln copy / inspect / tags / delete.
#include <cstdlib>
#include <iostream>

#include "cli.hpp"
#include "kiln/error.hpp"
#include "kiln/image_ref.hpp"
#include "progress.hpp"

namespace kiln_cli {

namespace {

// One registry object for both ends of a copy within one registry: one
// connection pool, one ping, one token cache.
void share_connection(const std::string& source, const std::string& destination, const kiln::ImageLocation& from,
                      kiln::ImageLocation& to) {
  if (source.rfind("oci:", 0) == 0 || destination.rfind("oci:", 0) == 0) return;
  if (kiln::ImageRef::parse(source).registry() == kiln::ImageRef::parse(destination).registry()) {
    to.registry = from.registry;
  }
}

int copy(Context& c) {
  kiln::CopyOptions options;
  options.platforms = c.all("--platform");
  options.extra_tags = c.all("--tag");
  if (c.has("--parallel")) {
    const std::string& text = c.all("--parallel").back();
    char* end = nullptr;
    long n = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end || n < 1 || n > 16) throw UsageError{"--parallel must be a number from 1 to 16"};
    options.parallel_blobs = static_cast<int>(n);
  }
  kiln::ImageLocation from = kiln::open_image(c.args[0], c.registry_options(), false);
  kiln::ImageLocation to = kiln::open_image(c.args[1], c.registry_options(), true);
  share_connection(c.args[0], c.args[1], from, to);
  kiln::EventSink events = c.verbose ? progress_printer() : kiln::EventSink{};
  kiln::CopyResult result = kiln::copy_image(*from.registry, from.repository, from.reference, *to.registry,
                                             to.repository, to.reference, options, events, c.cancel);
  std::cout << result.descriptor.digest.str() << "\n";
  if (c.verbose) {
    std::cerr << "copied " << from.display << " to " << to.display << ": " << result.blobs_copied << " blobs copied ("
              << result.bytes_copied << " bytes), " << result.blobs_mounted << " mounted, " << result.blobs_skipped
              << " already present, " << result.manifests_put << " manifests stored\n";
  }
  return 0;
}

int inspect(Context& c) {
  kiln::ImageLocation image = kiln::open_image(c.args[0], c.registry_options(), false);
  std::cout << kiln::inspect_image(*image.registry, image.repository, image.reference, c.cancel) << "\n";
  return 0;
}

int tags(Context& c) {
  const std::string& spec = c.args[0];
  std::vector<std::string> list;
  if (spec.rfind("oci:", 0) == 0) {
    kiln::ImageLocation layout = kiln::open_image(spec, c.registry_options(), false);
    list = layout.registry->tags("", c.cancel);
  } else {
    kiln::ImageRef ref = kiln::ImageRef::parse_repository(spec);
    if (!ref.tag().empty() || ref.digest()) {
      throw UsageError{"'kiln tags' takes a repository without tag or digest, e.g. " + ref.name()};
    }
    auto registry = kiln::open_remote_registry(ref.registry(), c.registry_options());
    list = registry->tags(ref.repository(), c.cancel);
  }
  for (const auto& tag : list) std::cout << tag << "\n";
  return 0;
}

int remove(Context& c) {
  kiln::ImageLocation image = kiln::open_image(c.args[0], c.registry_options(), false);
  if (image.reference.empty()) throw UsageError{"'kiln delete' needs a tag or digest: " + c.args[0] + ":TAG"};
  kiln::Digest digest = kiln::delete_image(*image.registry, image.repository, image.reference, c.cancel);
  std::cout << digest.str() << "\n";
  return 0;
}

}  // namespace

void add_registry_commands(std::vector<Command>& commands) {
  commands.push_back({"copy", "SRC DST",
                      "copy an image or index with all its platforms (prints the digest)", 2, 2,
                      {{"--platform", "OS/ARCH[/VARIANT]", "copy only this platform of an index (repeatable)"},
                       {"--tag", "TAG", "also tag the copy TAG (repeatable)"},
                       {"--parallel", "N", "blobs copied at the same time (default 4)"}},
                      copy});
  commands.push_back({"inspect", "IMAGE", "print media type, digest, platforms, layers and sizes as JSON", 1, 1, {},
                      inspect});
  commands.push_back({"tags", "REPOSITORY", "list the tags of a repository (or of oci:DIR)", 1, 1, {}, tags});
  commands.push_back({"delete", "IMAGE", "delete a manifest by digest (a tag is resolved first; prints the digest)",
                      1, 1, {}, remove});
}

}  // namespace kiln_cli

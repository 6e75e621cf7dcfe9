#include "registry/oci_layout.hpp"

#include <algorithm>
#include <set>
#include <system_error>
#include <vector>

#include "registry/file_blob_reader.hpp"
#include "registry/fs_util.hpp"
#include "registry/json_util.hpp"

namespace kiln::registry_detail {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxManifestSize = 4 << 20;  // distribution's own manifest limit
constexpr std::size_t kMaxIndexSize = 64 << 20;
constexpr std::size_t kChunk = 1 << 20;
constexpr const char* kLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

const char* algorithm_dir(Digest::Algorithm algorithm) {
  return algorithm == Digest::Algorithm::sha256 ? "sha256" : "sha512";
}

// The media type of a manifest stored without an index entry, from its own
// mediaType field (OCI only recommends the field; fall back on its shape).
std::string sniff_media_type(const std::string& bytes, const std::string& what) {
  json::object document = parse_object(bytes, what);
  if (const json::value* type = find(document, "mediaType")) {
    if (!type->is_string()) throw Error(Errc::protocol, what + ": mediaType: expected a string");
    return std::string(type->get_string());
  }
  if (find(document, "manifests")) return media_type::oci_index;
  if (find(document, "config")) return media_type::oci_manifest;
  throw Error(Errc::protocol, what + " is neither an image manifest nor an index");
}

void check_tag(const std::string& tag) {
  // The image-spec's ref.name grammar: components of [A-Za-z0-9] joined by
  // -._:@/+ ; kiln only rejects what would be ambiguous or unprintable.
  if (tag.empty() || tag.size() > 256) throw Error(Errc::invalid_argument, "OCI layout tag must have 1 to 256 characters");
  for (unsigned char c : tag) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == ':' || c == '@' || c == '/' || c == '+';
    if (!ok) throw Error(Errc::invalid_argument, "OCI layout tag \"" + shorten(tag) + "\" contains a character outside [A-Za-z0-9._:@/+-]");
  }
}

}  // namespace

OciLayout::OciLayout(fs::path root) : root_(std::move(root)) {}

void OciLayout::initialise(bool create) {
  std::error_code ec;
  if (!fs::exists(root_, ec)) {
    if (!create) throw Error(Errc::not_found, "OCI layout " + root_.string() + " does not exist");
    fs::create_directories(root_, ec);
    if (ec) throw Error(Errc::io, "cannot create OCI layout directory " + root_.string() + ": " + ec.message());
  }
  if (!fs::is_directory(root_, ec)) throw Error(Errc::invalid_argument, root_.string() + " is not a directory");

  fs::path layout_file = root_ / "oci-layout";
  if (!fs::exists(layout_file, ec)) {
    if (!create) {
      throw Error(Errc::invalid_argument,
                  root_.string() + " is not an OCI image layout (it has no oci-layout file)");
    }
    DirectoryLock lock(root_);
    if (!fs::exists(layout_file, ec)) {
      if (fs::exists(root_ / "index.json", ec)) {
        throw Error(Errc::invalid_argument, root_.string() + " has an index.json but no oci-layout file; refusing to overwrite it");
      }
      fs::create_directories(root_ / "blobs" / "sha256", ec);
      if (ec) throw Error(Errc::io, "cannot create " + (root_ / "blobs").string() + ": " + ec.message());
      LayoutIndex empty;
      write_file_atomic(root_ / "index.json", serialize_layout_index(empty, {}));
      write_file_atomic(layout_file, kLayoutFile);
    }
  }
  json::object layout = parse_object(read_small_file(layout_file, 64 << 10), layout_file.string());
  std::string version = required_string(layout, "imageLayoutVersion", layout_file.string());
  if (version.rfind("1.", 0) != 0) {
    throw Error(Errc::unsupported, layout_file.string() + ": imageLayoutVersion \"" + shorten(version) +
                                       "\" is not supported (expected 1.x)");
  }
  if (!fs::exists(root_ / "index.json", ec)) {
    if (!create) throw Error(Errc::invalid_argument, root_.string() + " is not an OCI image layout (it has no index.json)");
    DirectoryLock lock(root_);
    if (!fs::exists(root_ / "index.json", ec)) write_file_atomic(root_ / "index.json", serialize_layout_index({}, {}));
  }
}

fs::path OciLayout::blob_path(const Digest& digest) const {
  return root_ / "blobs" / algorithm_dir(digest.algorithm()) / digest.hex();
}

LayoutIndex OciLayout::read_index() const {
  fs::path path = root_ / "index.json";
  return parse_layout_index(read_small_file(path, kMaxIndexSize), path.string());
}

template <typename Change>
void OciLayout::update_index(Change&& change) {
  DirectoryLock lock(root_);
  LayoutIndex index = read_index();
  std::vector<Descriptor> manifests = index.manifests;
  change(manifests);
  write_file_atomic(root_ / "index.json", serialize_layout_index(index, manifests));
}

std::optional<Descriptor> OciLayout::resolve(const std::string&, const std::string& reference,
                                             const CancelToken& cancel) {
  cancel.check();
  LayoutIndex index = read_index();
  if (reference.empty()) {
    // "oci:<dir>" without a tag names the layout's only image, as skopeo does.
    if (index.manifests.empty()) return std::nullopt;
    if (index.manifests.size() > 1) {
      throw Error(Errc::invalid_argument, describe() + " holds " + std::to_string(index.manifests.size()) +
                                              " images; name one with oci:<dir>:<tag>");
    }
    return index.manifests.front();
  }
  if (Digest::is_valid(reference)) {
    Digest digest = Digest::parse(reference);
    for (const auto& entry : index.manifests) {
      if (entry.digest == digest) return entry;
    }
    std::error_code ec;
    fs::path path = blob_path(digest);
    auto size = fs::file_size(path, ec);
    if (ec) return std::nullopt;
    if (size > kMaxManifestSize) return std::nullopt;  // a layer, not a manifest
    std::string bytes = read_small_file(path, kMaxManifestSize);
    Descriptor out;
    out.media_type = sniff_media_type(bytes, path.string());
    out.digest = digest;
    out.size = static_cast<std::int64_t>(bytes.size());
    return out;
  }
  for (const auto& entry : index.manifests) {
    if (ref_name(entry) == reference) return entry;
  }
  return std::nullopt;
}

Manifest OciLayout::get_manifest(const std::string& repository, const std::string& reference,
                                 const CancelToken& cancel) {
  auto descriptor = resolve(repository, reference, cancel);
  if (!descriptor) {
    throw Error(Errc::not_found, "manifest \"" + shorten(reference) + "\" not found in " + describe());
  }
  if (!media_type::is_index(descriptor->media_type) && !media_type::is_manifest(descriptor->media_type)) {
    throw Error(Errc::unsupported, "\"" + shorten(reference) + "\" in " + describe() + " has media type " +
                                       descriptor->media_type + ", not an image manifest or index");
  }
  fs::path path = blob_path(descriptor->digest);
  Manifest manifest;
  manifest.media_type = descriptor->media_type;
  manifest.bytes = read_small_file(path, kMaxManifestSize);
  if (manifest.digest() != descriptor->digest ||
      static_cast<std::int64_t>(manifest.bytes.size()) != descriptor->size) {
    throw Error(Errc::digest_mismatch, path.string() + " does not match its digest " + descriptor->digest.str() +
                                           " and size " + std::to_string(descriptor->size) + " (corrupt layout)");
  }
  return manifest;
}

void OciLayout::store_bytes(const Digest& digest, std::string_view bytes) {
  fs::path path = blob_path(digest);
  std::error_code ec;
  if (fs::exists(path, ec)) return;
  fs::create_directories(path.parent_path(), ec);
  TempFile temp(root_);
  temp.write(bytes.data(), bytes.size());
  temp.commit(path);
}

void OciLayout::put_manifest(const std::string&, const std::string& reference, const Manifest& manifest,
                             const CancelToken& cancel) {
  cancel.check();
  if (!media_type::is_index(manifest.media_type) && !media_type::is_manifest(manifest.media_type)) {
    throw Error(Errc::invalid_argument, "cannot store a manifest of media type \"" + shorten(manifest.media_type) +
                                            "\": expected an OCI or Docker v2 manifest or index");
  }
  std::vector<Descriptor> references;
  try {
    references = manifest.references();
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, std::string("invalid manifest: ") + e.what());
  }
  for (const auto& ref : references) {
    std::error_code ec;
    auto size = fs::file_size(blob_path(ref.digest), ec);
    if (ec) {
      throw Error(Errc::invalid_argument, "manifest references " + ref.digest.str() + " which is not in " +
                                              describe() + "; store it first");
    }
    if (static_cast<std::int64_t>(size) != ref.size) {
      throw Error(Errc::invalid_argument, "manifest says " + ref.digest.str() + " has " + std::to_string(ref.size) +
                                              " bytes but " + describe() + " holds " + std::to_string(size));
    }
  }
  Digest digest = manifest.digest();
  bool by_digest = Digest::is_valid(reference);
  if (by_digest && Digest::parse(reference) != digest) {
    throw Error(Errc::digest_mismatch, "manifest bytes hash to " + digest.str() + ", not " + reference);
  }
  if (!by_digest) check_tag(reference);
  store_bytes(digest, manifest.bytes);
  if (by_digest) return;  // children are reachable through their parent, not index.json
  Descriptor entry = manifest.descriptor();
  entry.annotations[kRefNameAnnotation] = reference;
  update_index([&](std::vector<Descriptor>& manifests) {
    std::erase_if(manifests, [&](const Descriptor& d) { return ref_name(d) == reference; });
    manifests.push_back(entry);
  });
}

void OciLayout::record_untagged(const Manifest& manifest) {
  Descriptor entry = manifest.descriptor();
  update_index([&](std::vector<Descriptor>& manifests) {
    for (const auto& d : manifests) {
      if (d.digest == entry.digest) return;
    }
    manifests.push_back(entry);
  });
}

void OciLayout::delete_manifest(const std::string&, const Digest& digest, const CancelToken& cancel) {
  cancel.check();
  std::size_t removed = 0;
  update_index([&](std::vector<Descriptor>& manifests) {
    removed = std::erase_if(manifests, [&](const Descriptor& d) { return d.digest == digest; });
  });
  if (removed == 0) throw Error(Errc::not_found, "no image with digest " + digest.str() + " in " + describe());
}

std::vector<std::string> OciLayout::tags(const std::string&, const CancelToken& cancel) {
  cancel.check();
  std::set<std::string> names;
  for (const auto& entry : read_index().manifests) {
    std::string name = ref_name(entry);
    if (!name.empty()) names.insert(name);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> OciLayout::catalog(const CancelToken& cancel) {
  cancel.check();
  return {""};
}

std::optional<std::int64_t> OciLayout::stat_blob(const std::string&, const Digest& digest, const CancelToken& cancel) {
  cancel.check();
  std::error_code ec;
  auto size = fs::file_size(blob_path(digest), ec);
  if (ec) return std::nullopt;
  return static_cast<std::int64_t>(size);
}

std::unique_ptr<BlobReader> OciLayout::open_blob(const Descriptor& blob) const {
  fs::path path = blob_path(blob.digest);
  std::unique_ptr<FileBlobReader> reader;
  try {
    reader = std::make_unique<FileBlobReader>(path);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) throw Error(Errc::not_found, "blob " + blob.digest.str() + " not found in " + describe());
    throw;
  }
  if (static_cast<std::int64_t>(reader->size()) != blob.size) {
    throw Error(Errc::digest_mismatch, path.string() + " has " + std::to_string(reader->size()) +
                                           " bytes, its descriptor says " + std::to_string(blob.size));
  }
  return reader;
}

void OciLayout::get_blob(const std::string&, const Descriptor& blob, const BlobWriter& writer,
                         const CancelToken& cancel) {
  auto reader = open_blob(blob);
  Hasher hasher(blob.digest.algorithm());
  std::vector<char> buffer(kChunk);
  std::int64_t total = 0;
  for (;;) {
    cancel.check();
    std::size_t n = reader->read(buffer.data(), buffer.size());
    if (n == 0) break;
    total += static_cast<std::int64_t>(n);
    if (total > blob.size) break;
    hasher.update(buffer.data(), n);
    writer(buffer.data(), n);
  }
  if (total != blob.size || hasher.finish() != blob.digest) {
    throw Error(Errc::digest_mismatch, blob_path(blob.digest).string() + " does not match its digest (corrupt layout)");
  }
}

void OciLayout::put_blob(const std::string&, const Descriptor& blob, BlobReader& reader, const CancelToken& cancel) {
  cancel.check();
  fs::path path = blob_path(blob.digest);
  std::error_code ec;
  if (fs::exists(path, ec)) return;
  fs::create_directories(path.parent_path(), ec);
  TempFile temp(root_);
  Hasher hasher(blob.digest.algorithm());
  std::vector<char> buffer(kChunk);
  std::int64_t total = 0;
  for (;;) {
    cancel.check();
    std::size_t n = reader.read(buffer.data(), buffer.size());
    if (n == 0) break;
    total += static_cast<std::int64_t>(n);
    if (total > blob.size) {
      throw Error(Errc::digest_mismatch, "blob " + blob.digest.str() + " has more than the " +
                                             std::to_string(blob.size) + " bytes its descriptor announces");
    }
    hasher.update(buffer.data(), n);
    temp.write(buffer.data(), n);
  }
  if (total != blob.size) {
    throw Error(Errc::digest_mismatch, "blob " + blob.digest.str() + " ended after " + std::to_string(total) +
                                           " of " + std::to_string(blob.size) + " bytes");
  }
  Digest actual = hasher.finish();
  if (actual != blob.digest) {
    throw Error(Errc::digest_mismatch, "blob content hashes to " + actual.str() + ", not " + blob.digest.str() +
                                           "; nothing was stored");
  }
  temp.commit(path);
}

bool OciLayout::mount_blob(const std::string& repository, const Digest& digest, const std::string&,
                           const CancelToken& cancel) {
  // One layout is one repository: a blob it has is already "mounted".
  return stat_blob(repository, digest, cancel).has_value();
}

bool OciLayout::same_storage(const Registry& other) const {
  const auto* layout = dynamic_cast<const OciLayout*>(&other);
  if (!layout) return false;
  std::error_code ec;
  return fs::equivalent(root_, layout->root_, ec);
}

}  // namespace kiln::registry_detail

namespace kiln {

std::unique_ptr<Registry> open_oci_layout(const std::filesystem::path& directory, bool create) {
  if (directory.empty()) throw Error(Errc::invalid_argument, "OCI layout directory must not be empty");
  auto layout = std::make_unique<registry_detail::OciLayout>(directory);
  layout->initialise(create);
  return layout;
}

}  // namespace kiln

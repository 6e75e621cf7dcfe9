// The Registry interface family: anything that stores OCI images by
// repository, reference and digest. RemoteRegistry speaks the Distribution
// API; OciLayout is a directory on disk. copy() (= publish) and delete work on
// any pair of them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/auth.hpp"
#include "kiln/cancel.hpp"
#include "kiln/digest.hpp"
#include "kiln/events.hpp"
#include "kiln/image_ref.hpp"

namespace kiln {

namespace media_type {
inline constexpr const char* oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* oci_layer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
// The Accept header every manifest request sends (see behaviour-notes.md).
inline constexpr const char* manifest_accept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
bool is_index(std::string_view media_type);
bool is_manifest(std::string_view media_type);
}  // namespace media_type

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;
  std::string str() const;  // "linux/arm64/v8"
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::string to_json() const;  // OCI descriptor JSON
};

// A manifest exactly as stored: bytes are never re-serialized, so the digest
// of `bytes` is the manifest's digest.
struct Manifest {
  std::string media_type;
  std::string bytes;
  Digest digest() const { return Digest::of(bytes); }
  Descriptor descriptor() const;
  bool is_index() const { return media_type::is_index(media_type); }
  // Children of an index, or config + layers of an image manifest. Throws
  // Error(protocol) when the document is not what its media type says.
  std::vector<Descriptor> references() const;
};

// Pull-style source for uploads. read() returns 0 at the end.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual std::size_t read(char* buffer, std::size_t size) = 0;
  // Restart from byte `offset`; false when the source cannot (then an
  // interrupted upload cannot be retried).
  virtual bool seek(std::uint64_t offset) { (void)offset; return false; }
};

// Push-style sink for downloads; called with consecutive chunks.
using BlobWriter = std::function<void(const char* data, std::size_t size)>;

class Registry {
 public:
  virtual ~Registry() = default;

  // For messages: "registry 127.0.0.1:5000", "OCI layout /tmp/x".
  virtual std::string describe() const = 0;

  // Manifests. `reference` is a tag or a digest string.
  // resolve: the descriptor of the manifest, or nullopt when it does not exist.
  virtual std::optional<Descriptor> resolve(const std::string& repository, const std::string& reference,
                                            const CancelToken& cancel = {}) = 0;
  // Throws Error(not_found) when absent, Error(digest_mismatch) when the bytes
  // do not match the digest asked for or announced by the server.
  virtual Manifest get_manifest(const std::string& repository, const std::string& reference,
                                const CancelToken& cancel = {}) = 0;
  // Stores the bytes under `reference` (a tag, or the manifest's own digest).
  virtual void put_manifest(const std::string& repository, const std::string& reference, const Manifest& manifest,
                            const CancelToken& cancel = {}) = 0;
  virtual void delete_manifest(const std::string& repository, const Digest& digest,
                               const CancelToken& cancel = {}) = 0;
  virtual std::vector<std::string> tags(const std::string& repository, const CancelToken& cancel = {}) = 0;
  virtual std::vector<std::string> catalog(const CancelToken& cancel = {}) = 0;

  // Blobs. stat_blob: the size, or nullopt when absent.
  virtual std::optional<std::int64_t> stat_blob(const std::string& repository, const Digest& digest,
                                                const CancelToken& cancel = {}) = 0;
  // Streams the blob to `writer`, verifying size and digest while reading.
  virtual void get_blob(const std::string& repository, const Descriptor& blob, const BlobWriter& writer,
                        const CancelToken& cancel = {}) = 0;
  // Uploads exactly blob.size bytes from `reader`; the store refuses (and
  // keeps nothing) when they do not hash to blob.digest.
  virtual void put_blob(const std::string& repository, const Descriptor& blob, BlobReader& reader,
                        const CancelToken& cancel = {}) = 0;
  // Cross-repository mount within the same storage. Returns false when the
  // store did not mount (the caller then uploads).
  virtual bool mount_blob(const std::string& repository, const Digest& digest, const std::string& from_repository,
                          const CancelToken& cancel = {}) = 0;
  // True when `other` is the same storage, so mount_blob can replace a copy.
  virtual bool same_storage(const Registry& other) const = 0;
};

struct TransportOptions {
  // Hosts ("host:port") reached over plain HTTP or without TLS verification.
  // Loopback hosts may always use plain HTTP; without a CA or client
  // certificate configured they are asked over http first (dev registries
  // are plain), then https.
  std::vector<std::string> insecure_registries;
  std::string ca_file;           // extra CA bundle (PEM) for TLS verification
  std::string client_cert_file;  // PEM client certificate
  std::string client_key_file;   // PEM client key
  long connect_timeout_ms = 30000;
  long low_speed_timeout_s = 60;  // abort a transfer slower than 1 byte/s for this long
  int max_retries = 4;
  std::string user_agent = "kiln/0.1";
};

struct RegistryOptions {
  TransportOptions transport;
  // Where credentials come from; nullptr means anonymous.
  std::shared_ptr<CredentialStore> credentials;
  // Chunk size for chunked uploads; 0 = stream the whole blob in one request.
  std::size_t chunk_size = 0;
};

// A Distribution API endpoint, e.g. "127.0.0.1:5000" or "ghcr.io".
std::unique_ptr<Registry> open_remote_registry(const std::string& host, const RegistryOptions& options);
// An OCI image layout directory (index.json, oci-layout, blobs/). With
// create=true a missing directory is initialised. An OCI layout holds a single
// repository; its repository argument is ignored.
std::unique_ptr<Registry> open_oci_layout(const std::filesystem::path& directory, bool create);

// Where an image lives: "oci:<dir>[:<tag>]" or a registry reference.
struct ImageLocation {
  std::shared_ptr<Registry> registry;
  std::string repository;
  std::string reference;  // tag or digest
  std::string display;    // what the user wrote, for messages
};
ImageLocation open_image(const std::string& spec, const RegistryOptions& options, bool create = false);

struct CopyOptions {
  int parallel_blobs = 4;
  // Empty: all platforms of an index. Otherwise "os/arch[/variant]" filters
  // which children are copied (the index is then rewritten, which changes its
  // digest, and the result says so).
  std::vector<std::string> platforms;
  // More tags to put the copied manifest under.
  std::vector<std::string> extra_tags;
};

struct CopyResult {
  Descriptor descriptor;       // of the top-level manifest in the target
  std::int64_t blobs_copied = 0;
  std::int64_t blobs_mounted = 0;
  std::int64_t blobs_skipped = 0;  // already present in the target
  std::int64_t bytes_copied = 0;
  std::int64_t manifests_put = 0;
};

// Publish: copies an image or index with everything it references from one
// store to another. Events: blob.start/progress/done/skipped/mounted,
// manifest.put, copy.done.
CopyResult copy_image(Registry& source, const std::string& source_repository, const std::string& source_reference,
                      Registry& target, const std::string& target_repository, const std::string& target_reference,
                      const CopyOptions& options = {}, const EventSink& events = {}, const CancelToken& cancel = {});

// Deletes a manifest by digest; a tag is first resolved with the full Accept
// list. Returns the deleted digest. A registry without deletes gives
// Error(unsupported) saying how to enable them.
Digest delete_image(Registry& registry, const std::string& repository, const std::string& reference,
                    const CancelToken& cancel = {});

// inspect: media type, digest, platforms, layers and sizes as a JSON document.
std::string inspect_image(Registry& registry, const std::string& repository, const std::string& reference,
                          const CancelToken& cancel = {});

}  // namespace kiln

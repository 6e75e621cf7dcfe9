// OciLayout: the Registry interface over an OCI image-layout directory
// (image-spec image-layout.md): oci-layout, index.json, blobs/<alg>/<hex>.
// It holds one repository, so repository arguments are ignored.
#pragma once

#include <filesystem>
#include <memory>

#include "kiln/registry.hpp"
#include "registry/oci_index.hpp"

namespace kiln::registry_detail {

class OciLayout : public Registry {
 public:
  explicit OciLayout(std::filesystem::path root);

  std::string describe() const override { return "OCI layout " + root_.string(); }
  std::optional<Descriptor> resolve(const std::string& repository, const std::string& reference,
                                    const CancelToken& cancel) override;
  Manifest get_manifest(const std::string& repository, const std::string& reference,
                        const CancelToken& cancel) override;
  void put_manifest(const std::string& repository, const std::string& reference, const Manifest& manifest,
                    const CancelToken& cancel) override;
  void delete_manifest(const std::string& repository, const Digest& digest, const CancelToken& cancel) override;
  std::vector<std::string> tags(const std::string& repository, const CancelToken& cancel) override;
  std::vector<std::string> catalog(const CancelToken& cancel) override;
  std::optional<std::int64_t> stat_blob(const std::string& repository, const Digest& digest,
                                        const CancelToken& cancel) override;
  void get_blob(const std::string& repository, const Descriptor& blob, const BlobWriter& writer,
                const CancelToken& cancel) override;
  void put_blob(const std::string& repository, const Descriptor& blob, BlobReader& reader,
                const CancelToken& cancel) override;
  bool mount_blob(const std::string& repository, const Digest& digest, const std::string& from_repository,
                  const CancelToken& cancel) override;
  bool same_storage(const Registry& other) const override;

  // A seekable reader of a stored blob (copy streams from it without a pipe).
  std::unique_ptr<BlobReader> open_blob(const Descriptor& blob) const;
  std::filesystem::path blob_path(const Digest& digest) const;
  const std::filesystem::path& root() const { return root_; }

  // Lists a manifest stored by digest in index.json without a tag (as
  // skopeo does for an image copied by digest), so that it is reachable.
  void record_untagged(const Manifest& manifest);

  // Creates oci-layout, index.json and blobs/ when `create` and absent.
  void initialise(bool create);

 private:
  LayoutIndex read_index() const;
  // Read-modify-write of index.json under an exclusive lock on the directory,
  // so that concurrent writers (threads or processes) never lose an entry.
  template <typename Change>
  void update_index(Change&& change);
  void store_bytes(const Digest& digest, std::string_view bytes);

  std::filesystem::path root_;
};

}  // namespace kiln::registry_detail

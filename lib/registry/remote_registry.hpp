// RemoteRegistry: the Registry interface over the OCI Distribution API.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/authenticator.hpp"
#include "http/client.hpp"
#include "kiln/registry.hpp"

namespace kiln::registry_detail {

class RemoteRegistry : public Registry {
 public:
  // host: "registry:5000", "docker.io", or a URL prefix "http://host:port" /
  // "https://host" to force the scheme.
  RemoteRegistry(const std::string& host, const RegistryOptions& options);
  ~RemoteRegistry() override;

  std::string describe() const override;
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

  // The API base ("https://host:port"), known after the first request.
  std::string base_url(const CancelToken& cancel = {});

 private:
  // Sends with authorization for `scopes`; on a 401 learns the challenge
  // and sends once more (rewinding a streamed body, or returning the 401
  // when it cannot be rewound).
  http::Response send(http::Request& request, const std::vector<std::string>& scopes, const CancelToken& cancel);
  void ensure_pinged(const CancelToken& cancel);
  bool plain_http_first() const;
  std::string api_url(const std::string& path, const CancelToken& cancel);
  std::string what(const std::string& action) const;  // "... on registry host"
  void delete_session(const std::string& repository, const std::string& location);

  // Upload helpers (remote_upload.cpp).
  std::string start_upload(const std::string& repository, const CancelToken& cancel);
  void upload_into(const std::string& repository, const Descriptor& blob, BlobReader& reader, std::string location,
                   const CancelToken& cancel);
  std::uint64_t query_upload_offset(const std::string& repository, const std::string& location,
                                    const CancelToken& cancel, std::string* new_location);

  std::string host_;             // as given, for messages and credentials ("docker.io")
  std::string api_host_;         // "registry-1.docker.io"
  std::string forced_scheme_;    // "" = https, falling back to http when insecure
  bool insecure_ = false;
  RegistryOptions options_;
  std::unique_ptr<http::Session> session_;

  std::mutex mutex_;
  bool pinged_ = false;
  std::string base_;  // "https://host:port"
  std::unique_ptr<auth::Authenticator> auth_;
  // Upload sessions a 202 answer to a mount opened; put_blob uploads into them.
  std::map<std::pair<std::string, std::string>, std::string> mount_sessions_;
};

}  // namespace kiln::registry_detail

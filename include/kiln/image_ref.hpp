// Image references with the full grammar of docker/distribution's reference
// package: [host[:port]/]path[:tag][@digest].
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "kiln/digest.hpp"

namespace kiln {

class ImageRef {
 public:
  // Parses and normalizes: "ubuntu" -> docker.io/library/ubuntu:latest when
  // neither tag nor digest is given. Throws Error(invalid_argument) naming the
  // bad part (host, path component, tag, digest, length).
  static ImageRef parse(std::string_view text);
  // Parses without adding ":latest" (for repositories: `kiln tags REPO`).
  static ImageRef parse_repository(std::string_view text);

  const std::string& registry() const noexcept { return registry_; }   // "docker.io", "localhost:5000"
  const std::string& repository() const noexcept { return repository_; }  // "library/ubuntu"
  const std::string& tag() const noexcept { return tag_; }  // may be empty when a digest is set
  const std::optional<Digest>& digest() const noexcept { return digest_; }

  // The reference to ask the registry for: the digest when present, else the tag.
  std::string reference() const;
  // Canonical string: registry/repository[:tag][@digest].
  std::string str() const;
  // registry/repository
  std::string name() const;

  ImageRef with_tag(std::string tag) const;
  ImageRef with_digest(Digest digest) const;

  friend bool operator==(const ImageRef&, const ImageRef&) = default;

 private:
  static ImageRef parse_impl(std::string_view text, bool default_tag);

  std::string registry_;
  std::string repository_;
  std::string tag_;
  std::optional<Digest> digest_;
};

// Docker Hub's registry names, as they appear in references and config.json.
inline constexpr std::string_view kDockerHubRegistry = "docker.io";
inline constexpr std::string_view kDockerHubApiHost = "registry-1.docker.io";
inline constexpr std::string_view kDockerHubConfigKey = "https://index.docker.io/v1/";

}  // namespace kiln

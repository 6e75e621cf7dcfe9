// Content digests as the OCI image spec defines them: "<algorithm>:<hex>".
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace kiln {

class Digest {
 public:
  enum class Algorithm { sha256, sha512 };

  Digest() = default;
  // Throws Error(invalid_argument) naming the bad part: unknown algorithm,
  // wrong length, upper-case or non-hex characters.
  static Digest parse(std::string_view text);
  static bool is_valid(std::string_view text) noexcept;
  static Digest of(std::string_view bytes, Algorithm algorithm = Algorithm::sha256);

  Algorithm algorithm() const noexcept { return algorithm_; }
  const std::string& hex() const noexcept { return hex_; }
  std::string str() const;
  bool empty() const noexcept { return hex_.empty(); }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest& a, const Digest& b) { return a.str() <=> b.str(); }

 private:
  friend class Hasher;
  Algorithm algorithm_ = Algorithm::sha256;
  std::string hex_;
};

// Incremental hashing, for verifying streams while they pass through.
class Hasher {
 public:
  explicit Hasher(Digest::Algorithm algorithm = Digest::Algorithm::sha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  Digest finish();  // the hasher is reset afterwards
  // The raw digest (32 bytes for sha256, 64 for sha512) into `out`, which
  // holds at least 64; returns its length. Resets the hasher. For loops over
  // many small inputs that must not allocate.
  std::size_t finish_to(unsigned char* out);
  // Forgets what was hashed so far (e.g. after a failed read).
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
  Digest::Algorithm algorithm_;
};

}  // namespace kiln

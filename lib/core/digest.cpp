#include "kiln/digest.hpp"

#include <openssl/evp.h>

#include "kiln/error.hpp"

namespace kiln {
namespace {

std::size_t hex_length(Digest::Algorithm algorithm) {
  return algorithm == Digest::Algorithm::sha256 ? 64 : 128;
}

// Fetched once per process: with OpenSSL 3, EVP_sha256() passed to
// EVP_DigestInit_ex does an implicit fetch that takes a global lock on every
// init, which showed up at 8% of a cold version of 100k small files. The
// fetched methods are held for the life of the process.
const EVP_MD* evp_md(Digest::Algorithm algorithm) {
  static const EVP_MD* const sha256 = [] {
    const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md != nullptr ? md : EVP_sha256();
  }();
  static const EVP_MD* const sha512 = [] {
    const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA512", nullptr);
    return md != nullptr ? md : EVP_sha512();
  }();
  return algorithm == Digest::Algorithm::sha256 ? sha256 : sha512;
}

std::string to_hex(const unsigned char* data, unsigned size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size * 2, '\0');
  for (unsigned i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 15];
  }
  return out;
}

// Returns an empty string when valid, else what is wrong (for the error text).
std::string validate(std::string_view text, Digest::Algorithm* algorithm_out, std::string_view* hex_out) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return "has no ':' between algorithm and hex";
  auto algorithm_name = text.substr(0, colon);
  auto hex = text.substr(colon + 1);
  Digest::Algorithm algorithm;
  if (algorithm_name == "sha256") {
    algorithm = Digest::Algorithm::sha256;
  } else if (algorithm_name == "sha512") {
    algorithm = Digest::Algorithm::sha512;
  } else {
    return "uses an unsupported algorithm (expected sha256 or sha512)";
  }
  if (hex.size() != hex_length(algorithm)) {
    return "has " + std::to_string(hex.size()) + " hex characters, expected " + std::to_string(hex_length(algorithm));
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "contains a character that is not lower-case hex";
  }
  if (algorithm_out) *algorithm_out = algorithm;
  if (hex_out) *hex_out = hex;
  return {};
}

std::string shorten(std::string_view text) {
  if (text.size() <= 80) return std::string(text);
  return std::string(text.substr(0, 77)) + "...";
}

}  // namespace

Digest Digest::parse(std::string_view text) {
  Digest digest;
  std::string_view hex;
  auto problem = validate(text, &digest.algorithm_, &hex);
  if (!problem.empty()) throw Error(Errc::invalid_argument, "digest \"" + shorten(text) + "\" " + problem);
  digest.hex_ = std::string(hex);
  return digest;
}

bool Digest::is_valid(std::string_view text) noexcept { return validate(text, nullptr, nullptr).empty(); }

std::string Digest::str() const {
  if (hex_.empty()) return {};
  return (algorithm_ == Algorithm::sha256 ? "sha256:" : "sha512:") + hex_;
}

Digest Digest::of(std::string_view bytes, Algorithm algorithm) {
  Hasher hasher(algorithm);
  hasher.update(bytes);
  return hasher.finish();
}

struct Hasher::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~State() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(Digest::Algorithm algorithm) : state_(std::make_unique<State>()), algorithm_(algorithm) {
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, evp_md(algorithm), nullptr) != 1) {
    throw Error(Errc::internal, "OpenSSL could not initialise a digest context");
  }
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t size) {
  if (size) EVP_DigestUpdate(state_->ctx, data, size);
}

std::size_t Hasher::finish_to(unsigned char* out) {
  unsigned size = 0;
  EVP_DigestFinal_ex(state_->ctx, out, &size);
  reset();
  return size;
}

void Hasher::reset() {
  if (EVP_DigestInit_ex2(state_->ctx, evp_md(algorithm_), nullptr) != 1) {
    throw Error(Errc::internal, "OpenSSL could not initialise a digest context");
  }
}

Digest Hasher::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  auto size = static_cast<unsigned>(finish_to(md));
  Digest digest;
  digest.algorithm_ = algorithm_;
  digest.hex_ = to_hex(md, size);
  return digest;
}

}  // namespace kiln

#include "kiln/registry.hpp"
#include "registry/json_util.hpp"

namespace kiln {

Digest delete_image(Registry& registry, const std::string& repository, const std::string& reference,
                    const CancelToken& cancel) {
  if (reference.empty()) throw Error(Errc::invalid_argument, "delete needs a tag or digest");
  // Registries delete by digest only; resolve() asks with the full Accept
  // list so that a tag of an index yields the index's digest, not a child's.
  auto descriptor = registry.resolve(repository, reference, cancel);
  if (!descriptor) {
    throw Error(Errc::not_found, "\"" + registry_detail::shorten(reference) + "\" not found in " +
                                     (repository.empty() ? registry.describe() : repository + " on " + registry.describe()));
  }
  registry.delete_manifest(repository, descriptor->digest, cancel);
  return descriptor->digest;
}

}  // namespace kiln

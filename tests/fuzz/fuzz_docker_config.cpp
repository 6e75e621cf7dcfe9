// Credential documents from outside: docker config.json / .dockerconfigjson /
// .dockercfg (first byte 0..), credential helper output (1), token server
// responses (2). None may crash, and errors never echo a secret.
#include <cstddef>
#include <cstdint>
#include <string>

#include "auth/cred_helper.hpp"
#include "auth/docker_config.hpp"
#include "auth/token.hpp"
#include "kiln/auth.hpp"
#include "kiln/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: {
        auto config = kiln::auth::parse_docker_config(text, "fuzz");
        for (const auto& [host, credential] : config.auths) {
          if (host != kiln::auth::normalize_registry_key(host)) __builtin_trap();
          (void)credential;
        }
        auto store = kiln::dockerconfigjson_credentials(text);
        (void)store->get("docker.io");
        break;
      }
      case 1:
        (void)kiln::auth::parse_helper_output("fuzz", text);
        break;
      default: {
        auto token = kiln::auth::parse_token_response(text, "fuzz");
        if (token.token.empty() || token.expires_in.count() < 60) __builtin_trap();
        break;
      }
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}

// libcurl's URL API (CURLU) with RAII, for the files of this layer that take
// URLs apart (url.cpp, route.cpp). Internal to lib/http.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace kiln::http::curlu {

struct Deleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using Handle = std::unique_ptr<CURLU, Deleter>;

// The part as libcurl renders it, or "" when the URL has none.
inline std::string get_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return {};
  std::string out(value);
  curl_free(value);
  return out;
}

}  // namespace kiln::http::curlu

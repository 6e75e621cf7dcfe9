// Version, errors, strings, cancellation: the conventions of kiln.h.
#include "guard.hpp"

namespace kiln::capi {

int set_error(kiln_error** err, int code, std::string message, int http_status, std::string remote_code) noexcept {
  if (err) {
    try {
      *err = new kiln_error{code, http_status, std::move(message), std::move(remote_code)};
    } catch (...) {
      *err = nullptr;
    }
  }
  return code;
}

char* dup_string(std::string_view text) {
  auto* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return out;
}

void require(const void* ptr, const char* parameter) {
  if (!ptr) throw kiln::Error(kiln::Errc::invalid_argument, std::string("parameter '") + parameter + "' must not be NULL");
}

kiln::CancelToken token_of(const kiln_cancel* cancel) {
  return cancel ? cancel->token : kiln::CancelToken();
}

kiln::EventSink sink_of(kiln_event_cb cb, void* payload) {
  if (!cb) return {};
  return [cb, payload](const kiln::Event& event) {
    kiln_event c_event{event.type.c_str(), event.json.c_str()};
    return cb(&c_event, payload) == 0;
  };
}

}  // namespace kiln::capi

extern "C" {

const char* kiln_version(void) { return "0.1.0"; }

int kiln_error_code(const kiln_error* err) { return err ? err->code : KILN_OK; }
const char* kiln_error_message(const kiln_error* err) { return err ? err->message.c_str() : ""; }
const char* kiln_error_code_name(const kiln_error* err) {
  return kiln::errc_name(static_cast<kiln::Errc>(err ? err->code : 0));
}
int kiln_error_http_status(const kiln_error* err) { return err ? err->http_status : 0; }
const char* kiln_error_remote_code(const kiln_error* err) { return err ? err->remote_code.c_str() : ""; }
void kiln_error_free(kiln_error* err) { delete err; }

void kiln_free(void* ptr) { std::free(ptr); }

kiln_cancel* kiln_cancel_new(void) { return new (std::nothrow) kiln_cancel{}; }
void kiln_cancel_trigger(kiln_cancel* cancel) {
  if (cancel) cancel->token.cancel();
}
int kiln_cancel_is_triggered(const kiln_cancel* cancel) { return cancel && cancel->token.cancelled() ? 1 : 0; }
void kiln_cancel_free(kiln_cancel* cancel) { delete cancel; }

}  // extern "C"

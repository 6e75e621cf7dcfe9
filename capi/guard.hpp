// Helpers every C API file uses to keep the ABI promises: no exception
// crosses the boundary, errors become owned kiln_error objects, strings are
// allocated with malloc so that kiln_free can release them.
#pragma once

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "kiln.h"
#include "kiln/cancel.hpp"
#include "kiln/error.hpp"
#include "kiln/events.hpp"

struct kiln_error {
  int code;
  int http_status;
  std::string message;
  std::string remote_code;
};

struct kiln_cancel {
  kiln::CancelToken token;
};

namespace kiln::capi {

// Stores an error for the caller (if it asked for one) and returns its code.
int set_error(kiln_error** err, int code, std::string message, int http_status = 0, std::string remote_code = {}) noexcept;

// Runs body(); maps any exception to a status code and *err. body returns void.
template <typename Body>
int guard(kiln_error** err, Body&& body) noexcept {
  if (err) *err = nullptr;
  try {
    body();
    return KILN_OK;
  } catch (const kiln::Error& e) {
    return set_error(err, static_cast<int>(e.code()), e.what(), e.http_status(), e.remote_code());
  } catch (const std::bad_alloc&) {
    return set_error(err, KILN_EINTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return set_error(err, KILN_EINTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return set_error(err, KILN_EINTERNAL, "internal error: unknown exception");
  }
}

// A malloc'd NUL-terminated copy, released with kiln_free.
char* dup_string(std::string_view text);

// Throws Error(invalid_argument) naming the parameter when ptr is NULL.
void require(const void* ptr, const char* parameter);

// The caller's token, or a token nobody triggers.
kiln::CancelToken token_of(const kiln_cancel* cancel);

// Wraps a C callback as an EventSink; an empty sink when cb is NULL.
kiln::EventSink sink_of(kiln_event_cb cb, void* payload);

}  // namespace kiln::capi

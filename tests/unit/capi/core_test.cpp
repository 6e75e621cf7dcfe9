#include <doctest/doctest.h>

#include <cstring>
#include <thread>

#include "kiln.h"

TEST_CASE("version string matches the macros") {
  CHECK(std::strcmp(kiln_version(), "0.1.0") == 0);
  CHECK(KILN_VERSION_MAJOR == 0);
}

TEST_CASE("cancel tokens can be triggered from another thread") {
  kiln_cancel* cancel = kiln_cancel_new();
  REQUIRE(cancel);
  CHECK(kiln_cancel_is_triggered(cancel) == 0);
  std::thread([cancel] { kiln_cancel_trigger(cancel); }).join();
  CHECK(kiln_cancel_is_triggered(cancel) == 1);
  kiln_cancel_free(cancel);
}

TEST_CASE("error accessors accept NULL") {
  CHECK(kiln_error_code(nullptr) == KILN_OK);
  CHECK(std::strcmp(kiln_error_message(nullptr), "") == 0);
  kiln_error_free(nullptr);
  kiln_free(nullptr);
}

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/process.hpp"
#include "kiln/error.hpp"

using kiln::Errc;
using kiln::core::ProcessOptions;
using kiln::core::run_process;

namespace {
ProcessOptions with_timeout(std::chrono::milliseconds timeout, std::size_t max_output = 1 << 20) {
  ProcessOptions o;
  o.timeout = timeout;
  o.max_output = max_output;
  return o;
}
}  // namespace

TEST_CASE("run_process: argv without a shell, environment, exit codes") {
  auto o = with_timeout(std::chrono::seconds(10));
  o.extra_env = {{"KILN_X", "y z"}, {"PATH", "/usr/bin:/bin"}};
  auto r = run_process("/bin/sh", {"-c", "printf '%s|%s' \"$1\" \"$KILN_X\"; echo oops >&2; exit 3", "sh", "a b;c"}, o);
  CHECK(r.out == "a b;c|y z");
  CHECK(r.err == "oops\n");
  CHECK(r.exit_code == 3);
  auto killed = run_process("/bin/sh", {"-c", "kill -9 $$"}, with_timeout(std::chrono::seconds(10)));
  CHECK(killed.exit_code == 128 + 9);
}

TEST_CASE("run_process: a program that does not exist is not_found, naming it") {
  try {
    run_process("kiln-no-such-program", {}, with_timeout(std::chrono::seconds(5)));
    FAIL("started a missing program");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()).find("kiln-no-such-program") != std::string::npos);
  }
}

TEST_CASE("run_process: stdin bytes reach the child, then EOF") {
  auto o = with_timeout(std::chrono::seconds(10));
  o.stdin_data = std::string(300000, 'x') + "end";  // more than a socket buffer
  auto r = run_process("/bin/sh", {"-c", "wc -c; tail -c 3"}, o);
  CHECK(r.out == "300003\n");  // wc consumed everything; tail saw EOF at once
  CHECK(r.exit_code == 0);
  // A child that never reads stdin is judged by its exit status alone.
  o.stdin_data = std::string(1 << 20, 'y');
  auto ignored = run_process("/bin/true", {}, o);
  CHECK(ignored.exit_code == 0);
}

TEST_CASE("run_process: timeout, output cap and cancellation kill the child") {
  try {
    run_process("/bin/sleep", {"30"}, with_timeout(std::chrono::milliseconds(300)));
    FAIL("no timeout");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::timeout);
  }
  try {
    run_process("/bin/sh", {"-c", "yes"}, with_timeout(std::chrono::seconds(10), 4096));
    FAIL("no cap");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::too_large);
  }
  auto o = with_timeout(std::chrono::seconds(60));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    o.cancel.cancel();
  });
  try {
    run_process("/bin/sleep", {"30"}, o);
    FAIL("not cancelled");
  } catch (const kiln::Error& e) {
    CHECK(e.code() == Errc::cancelled);
  }
  t.join();
}

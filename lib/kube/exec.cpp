// exec over WebSocket: stdin streamed from a pull source, stdout/stderr
// delivered as they arrive, stdin closed with the v5 close channel, the exit
// code from the status channel. Under v4 (servers before 1.30) there is no
// close: the end of the source only stops sending, so the command must stop
// reading by itself (tests/integration/kube/exec_v4_test.cpp).
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "http/websocket.hpp"
#include "kube/channel.hpp"
#include "kube/client_impl.hpp"
#include "kube/resources.hpp"
#include "kube/status.hpp"

namespace kiln::kube {

namespace {

constexpr std::size_t kStdinChunk = 64u << 10;
// Stop reading stdin while this much is still unsent: a slow container must
// not make kiln buffer the whole tar stream.
constexpr std::size_t kMaxUnsent = 1u << 20;

}  // namespace

int exec_exit_code(std::string_view status_json, std::string_view what) {
  boost::system::error_code ec;
  auto value = boost::json::parse(status_json, ec);
  if (ec || !value.is_object())
    throw Error(Errc::protocol, fmt::format("{}: the status channel carried something that is not a JSON Status", what));
  const auto& status = value.get_object();
  auto state = json_str(value, {"status"});
  if (state == "Success") return 0;
  if (state != "Failure")
    throw Error(Errc::protocol, fmt::format("{}: status channel Status has status \"{}\"", what, state));
  if (json_str(value, {"reason"}) == "NonZeroExitCode") {
    if (auto d = status.find("details"); d != status.end() && d->value().is_object()) {
      if (auto c = d->value().get_object().find("causes"); c != d->value().get_object().end() && c->value().is_array()) {
        for (const auto& cause : c->value().get_array()) {
          if (json_str(cause, {"reason"}) != "ExitCode") continue;
          auto text = json_str(cause, {"message"});
          char* end = nullptr;
          long code = std::strtol(text.c_str(), &end, 10);
          if (!text.empty() && end && *end == '\0' && code >= 0 && code <= 255) return static_cast<int>(code);
          throw Error(Errc::protocol, fmt::format("{}: exit code \"{}\" is not a number from 0 to 255", what, text));
        }
      }
    }
    throw Error(Errc::protocol, fmt::format("{}: NonZeroExitCode without an ExitCode cause", what));
  }
  throw status_object_error(status, 0, what);
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && len > 1) {
      // Reject overlong forms, surrogates and code points above U+10FFFF.
      std::uint32_t cp = c & (0xff >> (len + 1));
      for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
          (cp >= 0xd800 && cp <= 0xdfff))
        ok = false;
    }
    if (!ok) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

ExecResult Client::exec(const std::string& pod, const ExecRequest& request, const CancelToken& cancel) {
  if (request.command.empty()) throw Error(Errc::invalid_argument, "exec needs a command");
  const std::string ns = impl_->ns(request.namespace_name);
  std::string path = resources::pods.path(ns, pod) + "/exec?";
  for (const auto& arg : request.command) path += "command=" + query_escape(arg) + "&";
  if (!request.container.empty()) {
    check_name(request.container, "container");
    path += "container=" + query_escape(request.container) + "&";
  }
  bool with_stdin = static_cast<bool>(request.stdin_source);
  path += fmt::format("stdin={}&stdout=true&stderr={}&tty={}", with_stdin ? "true" : "false", request.tty ? "false" : "true",
                      request.tty ? "true" : "false");
  const std::string what =
      fmt::format("exec in pod {}/{}{}", ns, pod, request.container.empty() ? "" : " container " + request.container);

  using clock = std::chrono::steady_clock;
  const bool has_deadline = request.timeout.count() > 0;
  const auto deadline = clock::now() + request.timeout;

  std::shared_ptr<http::Session> session;  // declared first: outlives the WebSocket using its share
  std::unique_ptr<http::WebSocket> ws;
  for (int attempt = 0;; ++attempt) {
    auto creds = impl_->auth.current(cancel);
    http::WsConnectOptions options;
    options.url = impl_->config.server + path;
    options.headers = impl_->headers_for(creds);
    options.protocols = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
    options.max_message = impl_->options.max_line_bytes;
    http::WsRejection rejection;
    session = impl_->session(true, creds);
    ws = http::WebSocket::connect(*session, options, rejection, cancel);
    if (ws) break;
    if (rejection.status == 401 && attempt == 0 && impl_->auth.invalidate()) continue;
    auto error = status_error(rejection.status, rejection.body, what);
    if (rejection.status == 400 || rejection.status == 403 || rejection.status == 426) {
      // Servers before Kubernetes 1.30 with WebSocket exec disabled only speak SPDY.
      std::string text = error.what();
      if (text.find("pgrade") != std::string::npos)
        text += " (the server refused the WebSocket upgrade; kiln does not speak SPDY, which servers before "
                "Kubernetes 1.30 may require)";
      throw Error(error.code(), text).with_http_status(error.http_status()).with_remote_code(error.remote_code());
    }
    throw error;
  }
  ExecResult result;
  result.protocol = ws->protocol();
  bool v5 = result.protocol == "v5.channel.k8s.io";
  if (!v5 && result.protocol != "v4.channel.k8s.io")
    throw Error(Errc::protocol, fmt::format("{}: the server chose channel protocol \"{}\"; kiln speaks v5 and v4", what,
                                            result.protocol));

  bool stdin_done = !with_stdin;
  std::optional<int> exit_code;
  std::string chunk(kStdinChunk, '\0');
  try {
    for (;;) {
      if (cancel.cancelled()) throw Error(Errc::cancelled, what + ": cancelled");
      if (has_deadline && clock::now() >= deadline)
        throw Error(Errc::timeout, fmt::format("{}: did not finish within {} ms", what, request.timeout.count()));
      bool progressed = false;
      if (!stdin_done && ws->pending_bytes() < kMaxUnsent) {
        chunk[0] = static_cast<char>(kChannelStdin);
        std::size_t n = request.stdin_source(chunk.data() + 1, chunk.size() - 1);
        if (n > chunk.size() - 1) throw Error(Errc::invalid_argument, what + ": the stdin source returned more than asked");
        if (n > 0) {
          ws->queue(http::WsOpcode::binary, std::string_view(chunk.data(), n + 1));
          result.stdin_bytes += n;
        } else {
          stdin_done = true;
          if (v5) ws->queue(http::WsOpcode::binary, std::string_view("\xff\x00", 2));
        }
        progressed = true;
      }
      auto before = ws->pending_bytes();
      ws->flush();
      if (ws->pending_bytes() != before) progressed = true;
      auto messages = ws->receive();
      if (!messages.empty()) progressed = true;
      bool closed = false;
      for (const auto& m : messages) {
        if (m.opcode == http::WsOpcode::close) {
          closed = true;
          continue;
        }
        if (m.opcode != http::WsOpcode::binary && m.opcode != http::WsOpcode::text) continue;
        if (m.payload.empty()) continue;
        auto channel = static_cast<unsigned char>(m.payload[0]);
        std::string_view data = std::string_view(m.payload).substr(1);
        if (channel == kChannelStdout) {
          if (request.on_stdout && !data.empty()) request.on_stdout(data);
        } else if (channel == kChannelStderr) {
          if (request.on_stderr && !data.empty()) request.on_stderr(data);
        } else if (channel == kChannelError) {
          if (!data.empty()) exit_code = exec_exit_code(data, what);
        }
      }
      if (closed || ws->eof()) break;
      if (!progressed) {
        bool want_write = ws->pending_bytes() > 0;
        ws->wait(want_write, std::chrono::milliseconds(100));
      }
    }
  } catch (...) {
    ws->close(1000, "", std::chrono::milliseconds(500));
    throw;
  }
  ws->close(1000, "", std::chrono::milliseconds(500));
  if (!exit_code)
    throw Error(Errc::protocol, fmt::format("{}: the connection ended without an exit status (container killed or "
                                            "connection dropped)", what));
  result.exit_code = *exit_code;
  return result;
}

}  // namespace kiln::kube

// RFC 6455 WebSocket client on a libcurl CONNECT_ONLY connection, so that
// TLS, client certificates and proxies are exactly those of the Session's
// REST requests. The frame codec is separate from the I/O so that it can be
// fuzzed and unit-tested.
#pragma once

#include <array>
#include <deque>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.hpp"
#include "kiln/cancel.hpp"

namespace kiln::http {

enum class WsOpcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// One client frame: FIN as given, masked with `mask` (clients must mask).
std::string ws_encode_frame(WsOpcode opcode, std::string_view payload, bool fin, std::array<std::uint8_t, 4> mask);

// A complete message (fragments reassembled) or a control frame.
struct WsMessage {
  WsOpcode opcode = WsOpcode::binary;  // text, binary, close, ping or pong
  std::string payload;
  // For close: the status code (1005 when the frame carried none) and reason.
  int close_code() const;
  std::string close_reason() const;
};

// Decodes what a server sends. Throws Error(protocol) for a masked server
// frame, reserved bits, unknown opcodes, bad fragmentation, oversized or
// fragmented control frames, and Error(too_large) for a message longer than
// max_message (so a hostile server costs bounded memory).
class WsDecoder {
 public:
  explicit WsDecoder(std::size_t max_message) : max_message_(max_message) {}
  // Appends bytes; returns complete messages in order.
  void feed(std::string_view data, std::vector<WsMessage>& out);

 private:
  bool parse_one(std::vector<WsMessage>& out);

  std::size_t max_message_;
  std::string buffer_;      // undecoded bytes
  std::size_t consumed_ = 0;
  bool in_message_ = false;  // a fragmented data message is open
  WsMessage partial_;
};

// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string ws_accept_key(std::string_view key);

struct WsConnectOptions {
  std::string url;  // http:// or https:// (the upgrade request's target)
  Headers headers;  // Authorization, ...
  std::vector<std::string> protocols;  // Sec-WebSocket-Protocol offers, preferred first
  std::size_t max_message = 16u << 20;
  // Applied after the Session's own options: proxies, connect-to, a client
  // certificate that only this connection uses.
  std::function<void(CURL*)> configure;
};

// What a server that refused the upgrade answered (status != 101).
struct WsRejection {
  long status = 0;
  Headers headers;
  std::string body;  // up to 64 KiB
};

class WebSocket {
 public:
  // Connects and upgrades. Returns nullptr and fills `rejection` when the
  // server answers with another status; throws Error(network|timeout|
  // cancelled|protocol) for transport failures and broken handshakes.
  static std::unique_ptr<WebSocket> connect(const Session& session, const WsConnectOptions& options,
                                            WsRejection& rejection, const CancelToken& cancel);
  ~WebSocket();
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // The subprotocol the server chose ("" if none).
  const std::string& protocol() const { return protocol_; }

  // Queues one message (a single frame; masked). Sending happens in flush().
  void queue(WsOpcode opcode, std::string_view payload);
  std::size_t pending_bytes() const { return pending_; }
  // Sends as much of the queue as the socket takes without blocking.
  void flush();

  // Reads what is available without blocking and returns the decoded
  // messages. Pings are answered (queued pongs) and also returned. Sets
  // eof() when the server closed the TCP connection.
  std::vector<WsMessage> receive();
  bool eof() const { return eof_; }

  // Waits until the socket is readable (or writable, when `want_write`), at
  // most `timeout`. Returns false on timeout.
  bool wait(bool want_write, std::chrono::milliseconds timeout);

  // Sends a close frame (best effort, bounded by `timeout`).
  void close(int code, std::string_view reason, std::chrono::milliseconds timeout);

 private:
  WebSocket() = default;
  void send_all(std::string_view data, const CancelToken& cancel, std::chrono::steady_clock::time_point deadline);

  CURL* easy_ = nullptr;
  std::shared_ptr<void> route_;  // HandleRoute::keep of easy_
  int socket_ = -1;
  std::string protocol_;
  std::string what_;  // "WebSocket https://host/path" for messages
  std::unique_ptr<WsDecoder> decoder_;
  // Frames waiting to be sent. After CURLE_AGAIN, OpenSSL insists on the
  // same buffer and length for the retry, so a frame is never moved or
  // modified once sending it has begun: one string per frame.
  std::deque<std::string> out_;
  std::size_t out_pos_ = 0;  // sent bytes of out_.front()
  std::size_t pending_ = 0;
  bool eof_ = false;
  bool close_sent_ = false;
  bool more_ = false;                // receive() stopped early: data may be buffered in TLS
  std::vector<WsMessage> early_;     // frames that arrived with the handshake answer
};

}  // namespace kiln::http

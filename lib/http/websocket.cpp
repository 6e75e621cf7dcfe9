#include "http/websocket.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "http/url.hpp"

namespace kiln::http {

namespace {

constexpr std::size_t kMaxHandshake = 64u << 10;
// receive() returns after this much so that a fast server cannot starve the
// sending side of a full-duplex loop.
constexpr std::size_t kReceiveBurst = 1u << 20;
constexpr auto kHandshakeTimeout = std::chrono::seconds(60);

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::array<std::uint8_t, 4> random_mask() {
  std::array<std::uint8_t, 4> mask{};
  if (RAND_bytes(mask.data(), 4) != 1) throw Error(Errc::internal, "RAND_bytes failed");
  return mask;
}

int progress_cb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const CancelToken*>(user)->cancelled() ? 1 : 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string ws_encode_frame(WsOpcode opcode, std::string_view payload, bool fin, std::array<std::uint8_t, 4> mask) {
  std::string frame;
  frame.reserve(payload.size() + 14);
  frame += static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode));
  std::uint64_t n = payload.size();
  if (n < 126) {
    frame += static_cast<char>(0x80 | n);
  } else if (n <= 0xffff) {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>((n >> 8) & 0xff);
    frame += static_cast<char>(n & 0xff);
  } else {
    frame += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
  }
  for (auto m : mask) frame += static_cast<char>(m);
  std::size_t start = frame.size();
  frame.append(payload);
  auto* p = reinterpret_cast<std::uint8_t*>(frame.data() + start);
  for (std::size_t i = 0; i < n; ++i) p[i] ^= mask[i & 3];
  return frame;
}

int WsMessage::close_code() const {
  if (payload.size() < 2) return 1005;
  return (static_cast<std::uint8_t>(payload[0]) << 8) | static_cast<std::uint8_t>(payload[1]);
}

std::string WsMessage::close_reason() const { return payload.size() > 2 ? payload.substr(2) : std::string(); }

void WsDecoder::feed(std::string_view data, std::vector<WsMessage>& out) {
  buffer_.append(data);
  while (parse_one(out)) {
  }
  if (consumed_ > 0 && (consumed_ >= buffer_.size() || consumed_ > (64u << 10))) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
}

bool WsDecoder::parse_one(std::vector<WsMessage>& out) {
  std::string_view b(buffer_);
  b.remove_prefix(consumed_);
  if (b.size() < 2) return false;
  auto b0 = static_cast<std::uint8_t>(b[0]);
  auto b1 = static_cast<std::uint8_t>(b[1]);
  bool fin = b0 & 0x80;
  if (b0 & 0x70) throw Error(Errc::protocol, "WebSocket: the server set reserved bits (no extension was negotiated)");
  auto opcode = static_cast<std::uint8_t>(b0 & 0x0f);
  if (b1 & 0x80) throw Error(Errc::protocol, "WebSocket: the server sent a masked frame (RFC 6455 forbids it)");
  bool control = opcode >= 8;
  if (control ? opcode > 10 : opcode > 2)
    throw Error(Errc::protocol, fmt::format("WebSocket: the server sent reserved opcode {}", opcode));
  std::uint64_t length = b1 & 0x7f;
  std::size_t header = 2;
  if (length == 126) {
    if (b.size() < 4) return false;
    length = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(b[2])) << 8) | static_cast<std::uint8_t>(b[3]);
    header = 4;
  } else if (length == 127) {
    if (b.size() < 10) return false;
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<std::uint8_t>(b[static_cast<std::size_t>(i)]);
    if (length >> 63) throw Error(Errc::protocol, "WebSocket: frame length has its most significant bit set");
    header = 10;
  }
  if (control && (!fin || length > 125))
    throw Error(Errc::protocol, "WebSocket: control frame fragmented or longer than 125 bytes");
  std::uint64_t total = length + (control || !in_message_ ? 0 : partial_.payload.size());
  if (total > max_message_)
    throw Error(Errc::too_large, fmt::format("WebSocket: the server sent a message longer than {} bytes", max_message_));
  if (b.size() - header < length) return false;
  std::string_view payload = b.substr(header, static_cast<std::size_t>(length));
  consumed_ += header + static_cast<std::size_t>(length);

  if (control) {
    out.push_back(WsMessage{static_cast<WsOpcode>(opcode), std::string(payload)});
    return true;
  }
  if (opcode == 0) {
    if (!in_message_) throw Error(Errc::protocol, "WebSocket: continuation frame without a message to continue");
    partial_.payload.append(payload);
  } else {
    if (in_message_) throw Error(Errc::protocol, "WebSocket: a new message started before the fragmented one ended");
    partial_ = WsMessage{static_cast<WsOpcode>(opcode), std::string(payload)};
    in_message_ = true;
  }
  if (fin) {
    out.push_back(std::move(partial_));
    partial_ = WsMessage{};
    in_message_ = false;
  }
  return true;
}

std::string ws_accept_key(std::string_view key) {
  std::string input(key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return base64(digest, sizeof digest);
}

std::unique_ptr<WebSocket> WebSocket::connect(const Session& session, const WsConnectOptions& options,
                                              WsRejection& rejection, const CancelToken& cancel) {
  auto parts = parse_url(options.url);
  std::unique_ptr<WebSocket> ws(new WebSocket());
  ws->what_ = fmt::format("WebSocket {}://{}{}", parts.scheme, url_authority(options.url), parts.path);
  ws->easy_ = curl_easy_init();
  if (!ws->easy_) throw Error(Errc::internal, "curl_easy_init failed");
  CURL* easy = ws->easy_;
  // The Host header below is built from options.url, which is what a TLS
  // server name override needs.
  ws->route_ = session.prepare_handle(easy, options.url).keep;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
  // The upgrade request is written by hand on the raw connection, so an
  // HTTP proxy must give a tunnel for http:// URLs as well (libcurl would
  // otherwise expect to send an absolute-form request to the proxy).
  curl_easy_setopt(easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
  // ALPN h2 would make the server refuse the HTTP/1.1 upgrade.
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &progress_cb);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &cancel);
  if (options.configure) options.configure(easy);
  CURLcode rc = curl_easy_perform(easy);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  if (rc == CURLE_ABORTED_BY_CALLBACK || cancel.cancelled()) throw Error(Errc::cancelled, ws->what_ + ": cancelled");
  if (rc != CURLE_OK) throw session.transfer_error(easy, rc, ws->what_, errbuf[0] ? errbuf : nullptr);
  curl_socket_t sock = CURL_SOCKET_BAD;
  curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &sock);
  if (sock == CURL_SOCKET_BAD) throw Error(Errc::network, ws->what_ + ": libcurl gave no socket");
  ws->socket_ = static_cast<int>(sock);

  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw Error(Errc::internal, "RAND_bytes failed");
  std::string key = base64(nonce, sizeof nonce);
  std::string target = parts.path.empty() ? "/" : parts.path;
  if (!parts.query.empty()) target += "?" + parts.query;
  std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\n"
      "Sec-WebSocket-Version: 13\r\nUser-Agent: {}\r\n",
      target, url_authority(options.url), key, session.options().user_agent);
  if (!options.protocols.empty()) {
    std::string offers;
    for (const auto& p : options.protocols) offers += (offers.empty() ? "" : ", ") + p;
    request += "Sec-WebSocket-Protocol: " + offers + "\r\n";
  }
  for (const auto& [name, value] : options.headers.fields()) request += name + ": " + value + "\r\n";
  request += "\r\n";
  auto deadline = std::chrono::steady_clock::now() + kHandshakeTimeout;
  ws->send_all(request, cancel, deadline);

  // Read the response head.
  std::string head;
  std::size_t end = std::string::npos;
  auto read_some = [&](std::string& into) {
    char buffer[16384];
    for (;;) {
      cancel.check();
      if (std::chrono::steady_clock::now() > deadline) throw Error(Errc::timeout, ws->what_ + ": no handshake answer");
      std::size_t n = 0;
      CURLcode r = curl_easy_recv(easy, buffer, sizeof buffer, &n);
      if (r == CURLE_AGAIN) {
        ws->wait(false, std::chrono::milliseconds(100));
        continue;
      }
      if (r != CURLE_OK) throw curl_error(r, ws->what_);
      into.append(buffer, n);
      return n;
    }
  };
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    if (head.size() > kMaxHandshake) throw Error(Errc::protocol, ws->what_ + ": handshake answer headers too long");
    if (read_some(head) == 0) throw Error(Errc::network, ws->what_ + ": the server closed the connection during the handshake");
  }
  std::string rest = head.substr(end + 4);
  head.resize(end);

  std::string_view lines(head);
  auto line_end = lines.find("\r\n");
  std::string_view status_line = lines.substr(0, line_end);
  long status = 0;
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12)
    throw Error(Errc::protocol, fmt::format("{}: not an HTTP answer to the upgrade request", ws->what_));
  status = std::strtol(std::string(status_line.substr(9, 3)).c_str(), nullptr, 10);
  Headers headers;
  while (line_end != std::string_view::npos) {
    lines.remove_prefix(line_end + 2);
    line_end = lines.find("\r\n");
    auto line = lines.substr(0, line_end);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    headers.add(std::string(line.substr(0, colon)), std::string(value));
  }

  if (status != 101) {
    rejection.status = status;
    rejection.headers = headers;
    std::string body = rest;
    auto length = headers.get("Content-Length");
    bool chunked = lower(headers.get("Transfer-Encoding").value_or("")).find("chunked") != std::string::npos;
    std::size_t want = length ? std::min<std::size_t>(std::strtoull(length->c_str(), nullptr, 10), kMaxHandshake) : kMaxHandshake;
    try {
      while (body.size() < want) {
        if (chunked && body.find("\r\n0\r\n") != std::string::npos) break;
        if (chunked && body.rfind("0\r\n", 0) == 0) break;
        if (read_some(body) == 0) break;
      }
    } catch (const Error&) {
      // The status says what went wrong; a body cut short does not change it.
    }
    if (chunked) {
      std::string plain;
      std::size_t pos = 0;
      while (pos < body.size()) {
        auto crlf = body.find("\r\n", pos);
        if (crlf == std::string::npos) break;
        auto size = std::strtoull(body.substr(pos, crlf - pos).c_str(), nullptr, 16);
        if (size == 0) break;
        plain += body.substr(crlf + 2, std::min<std::size_t>(size, body.size() - crlf - 2));
        pos = crlf + 2 + size + 2;
      }
      body = plain;
    }
    rejection.body = body.substr(0, kMaxHandshake);
    return nullptr;
  }
  if (lower(headers.get("Upgrade").value_or("")) != "websocket" ||
      lower(headers.get("Connection").value_or("")).find("upgrade") == std::string::npos)
    throw Error(Errc::protocol, ws->what_ + ": 101 answer without Upgrade: websocket");
  if (headers.get("Sec-WebSocket-Accept").value_or("") != ws_accept_key(key))
    throw Error(Errc::protocol, ws->what_ + ": wrong Sec-WebSocket-Accept in the handshake answer");
  ws->protocol_ = headers.get("Sec-WebSocket-Protocol").value_or("");
  if (!options.protocols.empty() && !ws->protocol_.empty() &&
      std::find(options.protocols.begin(), options.protocols.end(), ws->protocol_) == options.protocols.end())
    throw Error(Errc::protocol, fmt::format("{}: the server chose subprotocol \"{}\", which was not offered", ws->what_, ws->protocol_));
  ws->decoder_ = std::make_unique<WsDecoder>(options.max_message);
  if (!rest.empty()) {
    std::vector<WsMessage> early;
    ws->decoder_->feed(rest, early);
    // Kept for the first receive(): re-encode is impossible, so stash them.
    if (!early.empty()) ws->early_ = std::move(early);
  }
  return ws;
}

WebSocket::~WebSocket() {
  if (easy_) curl_easy_cleanup(easy_);
}

void WebSocket::send_all(std::string_view data, const CancelToken& cancel, std::chrono::steady_clock::time_point deadline) {
  while (!data.empty()) {
    cancel.check();
    if (std::chrono::steady_clock::now() > deadline) throw Error(Errc::timeout, what_ + ": sending timed out");
    std::size_t sent = 0;
    CURLcode rc = curl_easy_send(easy_, data.data(), data.size(), &sent);
    if (rc == CURLE_AGAIN) {
      wait(true, std::chrono::milliseconds(100));
      continue;
    }
    if (rc != CURLE_OK) throw curl_error(rc, what_);
    data.remove_prefix(sent);
  }
}

void WebSocket::queue(WsOpcode opcode, std::string_view payload) {
  if (close_sent_) return;
  out_.push_back(ws_encode_frame(opcode, payload, true, random_mask()));
  pending_ += out_.back().size();
  if (opcode == WsOpcode::close) close_sent_ = true;
}

void WebSocket::flush() {
  while (!out_.empty()) {
    const std::string& frame = out_.front();
    std::size_t sent = 0;
    CURLcode rc = curl_easy_send(easy_, frame.data() + out_pos_, frame.size() - out_pos_, &sent);
    if (rc == CURLE_AGAIN) return;
    if (rc != CURLE_OK) throw curl_error(rc, what_);
    out_pos_ += sent;
    pending_ -= sent;
    if (out_pos_ == frame.size()) {
      out_.pop_front();
      out_pos_ = 0;
    }
  }
}

std::vector<WsMessage> WebSocket::receive() {
  std::vector<WsMessage> messages = std::move(early_);
  early_.clear();
  more_ = false;
  std::size_t total = 0;
  char buffer[65536];
  while (!eof_) {
    if (total >= kReceiveBurst) {
      more_ = true;
      break;
    }
    std::size_t n = 0;
    CURLcode rc = curl_easy_recv(easy_, buffer, sizeof buffer, &n);
    if (rc == CURLE_AGAIN) break;
    if (rc != CURLE_OK) throw curl_error(rc, what_);
    if (n == 0) {
      eof_ = true;
      break;
    }
    total += n;
    decoder_->feed(std::string_view(buffer, n), messages);
  }
  for (const auto& m : messages) {
    if (m.opcode == WsOpcode::ping) queue(WsOpcode::pong, m.payload);
  }
  return messages;
}

bool WebSocket::wait(bool want_write, std::chrono::milliseconds timeout) {
  if (more_ || !early_.empty()) return true;
  pollfd fd{socket_, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
  int n = ::poll(&fd, 1, static_cast<int>(timeout.count()));
  return n > 0;
}

void WebSocket::close(int code, std::string_view reason, std::chrono::milliseconds timeout) {
  if (!close_sent_) {
    std::string payload;
    payload += static_cast<char>((code >> 8) & 0xff);
    payload += static_cast<char>(code & 0xff);
    payload.append(reason.substr(0, 123));
    queue(WsOpcode::close, payload);
  }
  // Best effort: the connection is going away either way.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    while (pending_ > 0 && std::chrono::steady_clock::now() < deadline) {
      flush();
      if (pending_ > 0) wait(true, std::chrono::milliseconds(50));
    }
  } catch (const Error&) {
  }
}

}  // namespace kiln::http

// The RFC 6455 frame codec.
#include <doctest/doctest.h>

#include "http/websocket.hpp"

using kiln::Errc;
using namespace kiln::http;

namespace {

// An unmasked frame as a server sends it.
std::string server_frame(std::uint8_t first, std::string_view payload) {
  std::string f;
  f += static_cast<char>(first);
  if (payload.size() < 126) {
    f += static_cast<char>(payload.size());
  } else if (payload.size() <= 0xffff) {
    f += static_cast<char>(126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  } else {
    f += static_cast<char>(127);
    for (int s = 56; s >= 0; s -= 8) f += static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> s) & 0xff);
  }
  f.append(payload);
  return f;
}

Errc decode_error(const std::string& bytes, std::size_t max = 1 << 20) {
  WsDecoder d(max);
  std::vector<WsMessage> out;
  try {
    d.feed(bytes, out);
  } catch (const kiln::Error& e) {
    return e.code();
  }
  return Errc::ok;
}

}  // namespace

TEST_CASE("accept key of RFC 6455 section 1.3") {
  CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("client frames are masked, with the three length forms") {
  std::array<std::uint8_t, 4> mask{0x37, 0xfa, 0x21, 0x3d};
  // RFC 6455 5.7: a masked "Hello".
  auto hello = ws_encode_frame(WsOpcode::text, "Hello", true, mask);
  CHECK(hello == std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  auto medium = ws_encode_frame(WsOpcode::binary, std::string(300, 'a'), true, mask);
  CHECK(static_cast<std::uint8_t>(medium[1]) == (0x80 | 126));
  CHECK(medium.size() == 2 + 2 + 4 + 300);
  auto large = ws_encode_frame(WsOpcode::binary, std::string(70000, 'a'), false, mask);
  CHECK(static_cast<std::uint8_t>(large[0]) == 0x02);  // FIN clear
  CHECK(static_cast<std::uint8_t>(large[1]) == (0x80 | 127));
  CHECK(large.size() == 2 + 8 + 4 + 70000);
  // Unmasking gives the payload back.
  std::string payload = large.substr(14);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
  CHECK(payload == std::string(70000, 'a'));
}

TEST_CASE("decoder: byte-by-byte input, fragmentation, interleaved control frames") {
  std::string stream = server_frame(0x02, "\x01" "ab") + server_frame(0x89, "ping!") + server_frame(0x00, "cd") +
                       server_frame(0x80, "ef") + server_frame(0x82, std::string(70000, 'z')) +
                       server_frame(0x88, std::string("\x03\xe8" "bye", 5));
  WsDecoder d(1 << 20);
  std::vector<WsMessage> out;
  for (char c : stream) d.feed(std::string_view(&c, 1), out);
  REQUIRE(out.size() == 4);
  CHECK(out[0].opcode == WsOpcode::ping);
  CHECK(out[0].payload == "ping!");
  CHECK(out[1].opcode == WsOpcode::binary);
  CHECK(out[1].payload == "\x01" "abcdef");
  CHECK(out[2].payload.size() == 70000);
  CHECK(out[3].opcode == WsOpcode::close);
  CHECK(out[3].close_code() == 1000);
  CHECK(out[3].close_reason() == "bye");
}

TEST_CASE("decoder rejects what RFC 6455 forbids and caps messages") {
  CHECK(decode_error(std::string("\x82\x81\x00\x00\x00\x00x", 7)) == Errc::protocol);  // masked server frame
  CHECK(decode_error(server_frame(0xC2, "x")) == Errc::protocol);                      // RSV1
  CHECK(decode_error(server_frame(0x83, "x")) == Errc::protocol);                      // reserved opcode
  CHECK(decode_error(server_frame(0x80, "x")) == Errc::protocol);                      // continuation without start
  CHECK(decode_error(server_frame(0x02, "x") + server_frame(0x82, "y")) == Errc::protocol);
  CHECK(decode_error(server_frame(0x09, "x")) == Errc::protocol);                      // fragmented ping
  CHECK(decode_error(server_frame(0x89, std::string(126, 'x'))) == Errc::protocol);    // long ping
  CHECK(decode_error(server_frame(0x82, std::string(2000, 'x')), 1000) == Errc::too_large);
  CHECK(decode_error(server_frame(0x02, std::string(600, 'x')) + server_frame(0x80, std::string(600, 'x')), 1000) ==
        Errc::too_large);
  // A huge announced length is refused before any payload arrives.
  CHECK(decode_error(std::string("\x82\x7f\x00\x00\x00\x10\x00\x00\x00\x00", 10), 1 << 20) == Errc::too_large);
}

// What an API server streams back: watch event lines (through the capped line
// splitter), WebSocket frames of an exec and the exec status channel. The
// first byte picks the parser so that one corpus covers all three.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/websocket.hpp"
#include "kiln/error.hpp"
#include "kube/channel.hpp"
#include "kube/lines.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: {
        kiln::kube::LineSplitter lines(4096, "fuzz watch");
        // Feed in uneven pieces, as the network would.
        std::size_t pos = 0, step = 1;
        while (pos < text.size()) {
          auto piece = text.substr(pos, step);
          lines.feed(piece, [](std::string_view line) {
            if (line.size() > 4096) __builtin_trap();
            if (line.empty()) return;
            try {
              kiln::kube::parse_watch_event(line, "fuzz watch");
            } catch (const kiln::Error&) {
            }
          });
          pos += piece.size();
          step = step * 3 % 257 + 1;
        }
        break;
      }
      case 1: {
        kiln::http::WsDecoder decoder(1 << 16);
        std::vector<kiln::http::WsMessage> out;
        decoder.feed(text, out);
        for (const auto& m : out) {
          if (m.payload.size() > (1 << 16)) __builtin_trap();
          (void)m.close_code();
        }
        break;
      }
      default:
        (void)kiln::kube::exec_exit_code(text, "fuzz exec");
        (void)kiln::kube::sanitize_utf8(text);
        break;
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}

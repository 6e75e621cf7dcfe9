// The Kubernetes streaming channel protocol carried in WebSocket binary
// messages (v4.channel.k8s.io, v5.channel.k8s.io): one leading channel byte,
// then data. Kept apart from the I/O so that it can be tested and fuzzed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace kiln::kube {

inline constexpr unsigned char kChannelStdin = 0;
inline constexpr unsigned char kChannelStdout = 1;
inline constexpr unsigned char kChannelStderr = 2;
inline constexpr unsigned char kChannelError = 3;
inline constexpr unsigned char kChannelResize = 4;
inline constexpr unsigned char kChannelClose = 255;  // v5: payload names the stream to close

// The exit code a status-channel message announces: 0 for Success, the
// ExitCode cause for NonZeroExitCode. Throws the Status as a kiln::Error for
// any other failure (command not found, container not running), and
// Error(protocol) for something that is not a Status. `what` names the exec.
int exec_exit_code(std::string_view status_json, std::string_view what);

// Replaces invalid UTF-8 with U+FFFD so that log lines can travel in JSON events.
std::string sanitize_utf8(std::string_view text);

}  // namespace kiln::kube

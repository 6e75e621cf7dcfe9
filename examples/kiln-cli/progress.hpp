// -v progress lines on stderr for copy events.
#pragma once

#include "kiln/events.hpp"

namespace kiln_cli {

// A sink printing one line per event (blob.progress at most every 2 s).
kiln::EventSink progress_printer();

}  // namespace kiln_cli

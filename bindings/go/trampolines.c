// C-typed entry points for the Go callbacks exported in events.go: kiln's
// callback types take const pointers and a void* payload, cgo's exports take
// what Go can declare (the payload is a cgo.Handle number, never a Go pointer).
#include "_cgo_export.h"

int kilnGoEventC(const kiln_event *event, void *payload) {
  return kilnGoEvent((kiln_event *)event, (uintptr_t)payload);
}

int kilnGoWriteC(const void *data, size_t size, void *payload) {
  return kilnGoWrite((void *)data, size, (uintptr_t)payload);
}

int kilnGoReadC(void *buffer, size_t capacity, size_t *filled, void *payload) {
  return kilnGoRead(buffer, capacity, filled, (uintptr_t)payload);
}

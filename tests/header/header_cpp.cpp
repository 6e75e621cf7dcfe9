// kiln.h must compile as C++ with every warning an error, and link.
#include "kiln.h"

int main() {
  kiln_cancel* cancel = kiln_cancel_new();
  int triggered = kiln_cancel_is_triggered(cancel);
  kiln_cancel_free(cancel);
  return triggered == 0 ? 0 : 1;
}

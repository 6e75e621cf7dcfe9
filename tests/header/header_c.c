/* kiln.h must compile as strict C99 with every warning an error. */
#include "kiln.h"

int main(void) {
  kiln_error *err = NULL;
  kiln_cancel *cancel = kiln_cancel_new();
  kiln_cancel_trigger(cancel);
  int triggered = kiln_cancel_is_triggered(cancel);
  kiln_cancel_free(cancel);
  kiln_error_free(err);
  return (triggered == 1 && kiln_version()[0] != '\0') ? 0 : 1;
}

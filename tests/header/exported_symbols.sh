#!/bin/sh
# Fails when libkiln.so exports anything but kiln_* (plus the linker's own
# marker symbols), or when it has no soname.
set -eu
lib="$1"
leaks=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
  grep -vE '^(kiln_[A-Za-z0-9_]+|KILN_0|_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$leaks" ]; then
  echo "libkiln exports symbols other than kiln_*:" >&2
  echo "$leaks" | head -20 >&2
  exit 1
fi
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep -c '^kiln_' || true)
[ "$count" -gt 5 ] || { echo "libkiln exports only $count kiln_* symbols" >&2; exit 1; }
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
case "$soname" in
  libkiln.so.*) ;;
  *) echo "libkiln has no versioned soname (got '$soname')" >&2; exit 1 ;;
esac
echo "exported symbols ok: $count kiln_* symbols, soname $soname"

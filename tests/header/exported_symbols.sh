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
# With the header as $2: every function it declares is exported (a missing
# implementation or a symbol left out of capi/kiln.map fails here, not in a
# host's link), and nothing is exported that it does not declare.
if [ $# -ge 2 ]; then
  declared=$(tr '\n' ' ' < "$2" | grep -oE 'KILN_EXPORT [^(;]*\(' | sed -E 's/.*[ *]([A-Za-z0-9_]+)\($/\1/' |
    grep '^kiln_' | sort -u)
  exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | grep '^kiln_' | sort -u)
  missing=""
  extra=""
  for f in $declared; do echo "$exported" | grep -qx "$f" || missing="$missing $f"; done
  for f in $exported; do echo "$declared" | grep -qx "$f" || extra="$extra $f"; done
  if [ -n "$missing" ]; then
    echo "declared in kiln.h but not exported by libkiln:" >&2
    echo "$missing" >&2
    exit 1
  fi
  if [ -n "$extra" ]; then
    echo "exported by libkiln but not declared in kiln.h:" >&2
    echo "$extra" >&2
    exit 1
  fi
fi
echo "exported symbols ok: $count kiln_* symbols, soname $soname"

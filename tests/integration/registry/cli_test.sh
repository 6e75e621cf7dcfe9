#!/bin/bash
# The `kiln` tool end to end: copy / inspect / tags / delete against the
# plain and TLS registries of tests/services/up, results checked with skopeo;
# bad input must give one "kiln: ..." line and exit status 1.
# Usage: cli_test.sh PATH/TO/kiln
set -uo pipefail
KILN="$1"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for v in KILN_TEST_REGISTRY KILN_TEST_REGISTRY_TLS KILN_TEST_CA KILN_TEST_CERT_DIR; do
    if [[ -z "${!v:-}" ]]; then
        if [[ "${CI:-}" == true ]]; then echo "CI=true but $v is not set: eval \"\$(tests/services/up)\"" >&2; exit 1; fi
        echo "skipped: $v is not set (eval \"\$(tests/services/up)\")" >&2
        exit 77
    fi
done

WORK="$(mktemp -d /tmp/kiln-cli-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
# An image made by skopeo from the services' busybox layout.
skopeo copy -q "oci:$KILN_TEST_BASE_IMAGE_OCI:latest" "oci:$WORK/src:1" || { echo "skopeo copy failed" >&2; exit 1; }
DIGEST="$(skopeo inspect --raw "oci:$WORK/src:1" | sha256sum | cut -d' ' -f1)"
DIGEST="sha256:$DIGEST"
REPO="kiln-cli/busybox-$$"
PLAIN="$KILN_TEST_REGISTRY/$REPO"
TLS="$KILN_TEST_REGISTRY_TLS/$REPO"

out="$("$KILN" copy "oci:$WORK/src:1" "$PLAIN:1" 2>"$WORK/err")" || fail "copy to the plain registry: $(cat "$WORK/err")"
[[ "$out" == "$DIGEST" ]] || fail "copy printed '$out', expected $DIGEST"
"$KILN" -v --ca-file "$KILN_TEST_CA" copy --tag extra "$PLAIN:1" "$TLS:1" >/dev/null 2>"$WORK/progress" ||
    fail "publish to TLS: $(cat "$WORK/progress")"
grep -q "manifest .*stored as extra" "$WORK/progress" || fail "-v printed no progress: $(cat "$WORK/progress")"
seen="$(skopeo inspect --cert-dir "$KILN_TEST_CERT_DIR" "docker://$TLS:extra" | jq -r .Digest)"
[[ "$seen" == "$DIGEST" ]] || fail "skopeo sees $seen at $TLS:extra"

json="$("$KILN" --ca-file "$KILN_TEST_CA" inspect "$TLS:1")" || fail "inspect"
[[ "$(jq -r .digest <<<"$json")" == "$DIGEST" ]] || fail "inspect digest: $json"
[[ "$(jq -r .platform <<<"$json")" == linux/amd64 ]] || fail "inspect platform: $json"
[[ "$(jq '.layers | length' <<<"$json")" -ge 1 ]] || fail "inspect layers: $json"

tags="$("$KILN" --ca-file "$KILN_TEST_CA" tags "$TLS" | sort | tr '\n' ' ')"
[[ "$tags" == "1 extra " ]] || fail "tags printed '$tags'"
tags="$("$KILN" tags "oci:$WORK/src")"
[[ "$tags" == 1 ]] || fail "tags of the layout printed '$tags'"

deleted="$("$KILN" delete "$PLAIN:1")" || fail "delete"
[[ "$deleted" == "$DIGEST" ]] || fail "delete printed '$deleted'"
skopeo inspect --tls-verify=false "docker://$PLAIN:1" >/dev/null 2>&1 && fail "skopeo still finds $PLAIN:1"

# Bad input: one line on stderr, "kiln: " first, status 1, nothing on stdout.
expect_error() {
    local pattern="$1"; shift
    local out err status
    out="$("$KILN" "$@" 2>"$WORK/err")"
    status=$?
    err="$(cat "$WORK/err")"
    [[ $status -eq 1 ]] || fail "kiln $*: exit status $status, expected 1"
    [[ -z "$out" ]] || fail "kiln $*: printed '$out' on stdout"
    [[ "$(wc -l <"$WORK/err")" -eq 1 && "$err" == "kiln: "* ]] || fail "kiln $*: stderr is not one 'kiln:' line: $err"
    [[ "$err" == *$pattern* ]] || fail "kiln $*: '$err' does not mention '$pattern'"
}
expect_error "Upper" copy "$KILN_TEST_REGISTRY/Upper:1" "oci:$WORK/x:1"
expect_error "does not exist" inspect "oci:$WORK/none:1"
expect_error "not found" inspect "oci:$WORK/src:nope"
expect_error "unknown command" frobnicate
expect_error "unknown option" copy --frob a b
expect_error "usage" copy onlyone
expect_error "--ca-file needs a value" inspect x --ca-file
expect_error "platform" copy --platform linux "oci:$WORK/src:1" "oci:$WORK/y:1"
expect_error "$KILN_TEST_REGISTRY_TLS" inspect "$TLS:1"   # TLS without the CA: verification fails, host named
"$KILN" --help | grep -q "kiln copy\|copy SRC DST" || fail "--help does not list copy"

if ((failures)); then echo "$failures failure(s)" >&2; exit 1; fi
echo "cli: all checks passed"

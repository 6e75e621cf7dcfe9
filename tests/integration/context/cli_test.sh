#!/bin/bash
# `kiln version` and `kiln context` end to end: the version format, --files
# against the library's own list (context_list), what changes the version and
# what does not, the tar stream checked with GNU tar and gzip, and bad input
# (one "kiln: ..." line naming the bad path, exit status 1, nothing on stdout).
# Usage: cli_test.sh PATH/TO/kiln PATH/TO/integration_context_list
set -uo pipefail
KILN="$1"
LIST="$2"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

WORK="$(mktemp -d /tmp/kiln-cli-context.XXXXXX)"
trap 'chmod -R u+rwx "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

# A context with nested directories, an executable, a symlink, an ignored
# directory with an exception, and names that need care (spaces, '-' sorting
# before '/').
CTX="$WORK/ctx"
mkdir -p "$CTX/src/lib" "$CTX/src-gen" "$CTX/node_modules/keep" "$CTX/node_modules/drop" "$CTX/docs"
printf 'FROM scratch\nCOPY . /app/\n' >"$CTX/Dockerfile"
printf 'node_modules\n!node_modules/keep\n*.log\n' >"$CTX/.dockerignore"
printf 'int main() {}\n' >"$CTX/src/main.c"
printf 'x = 1\n' >"$CTX/src/lib/util.py"
printf 'generated\n' >"$CTX/src-gen/out.c"
printf '#!/bin/sh\necho hi\n' >"$CTX/run.sh" && chmod 755 "$CTX/run.sh"
printf 'kept\n' >"$CTX/node_modules/keep/index.js"
printf 'dropped\n' >"$CTX/node_modules/drop/index.js"
printf 'log\n' >"$CTX/build.log"
printf 'with space\n' >"$CTX/docs/a b.md"
ln -s src/main.c "$CTX/link"
printf 'FROM scratch\nCOPY src /src/\n' >"$CTX/docs/Dockerfile.alt"

# Runs kiln; stdout to $WORK/out, stderr to $WORK/err; returns kiln's status.
run() { "$KILN" "$@" >"$WORK/out" 2>"$WORK/err"; }

# --- version: format and agreement with the library --------------------------
run version "$CTX" || fail "kiln version: $(cat "$WORK/err")"
V="$(cat "$WORK/out")"
[[ "$V" =~ ^v-[0-9a-f]{10}$ ]] || fail "version printed '$V', expected v- and 10 hex digits"
lib_json="$("$LIST" "$CTX")" || fail "context_list failed: $lib_json"
[[ "$(jq -r .version <<<"$lib_json")" == "$V" ]] || fail "CLI version $V differs from the library's: $lib_json"

# --- --files: sorted, equal to the library's entries --------------------------
run version --files "$CTX" || fail "kiln version --files: $(cat "$WORK/err")"
cp "$WORK/out" "$WORK/files"
LC_ALL=C sort -c "$WORK/files" 2>/dev/null || fail "--files output is not sorted: $(cat "$WORK/files")"
jq -r '.entries[].path' <<<"$lib_json" | LC_ALL=C sort >"$WORK/lib-files"
diff -u "$WORK/lib-files" "$WORK/files" >"$WORK/diff" || fail "--files differs from the library's list: $(cat "$WORK/diff")"
for want in Dockerfile .dockerignore run.sh link src/main.c src-gen/out.c node_modules/keep/index.js "docs/a b.md"; do
    grep -qxF "$want" "$WORK/files" || fail "--files lacks '$want'"
done
for unwanted in node_modules node_modules/drop/index.js build.log; do
    grep -qxF "$unwanted" "$WORK/files" && fail "--files lists ignored '$unwanted'"
done

# --- what changes the version, and what does not -------------------------------
cp -a "$CTX" "$WORK/copy"
touch -d '2001-02-03 04:05:06' "$WORK/copy/src/main.c"
run version "$WORK/copy" && [[ "$(cat "$WORK/out")" == "$V" ]] ||
    fail "the same tree elsewhere with other mtimes has version $(cat "$WORK/out"), expected $V"
printf 'changed\n' >"$WORK/copy/build.log"
run version "$WORK/copy" && [[ "$(cat "$WORK/out")" == "$V" ]] || fail "changing an ignored file changed the version"
printf 'int main() { return 1; }\n' >"$WORK/copy/src/main.c"
run version "$WORK/copy" && [[ "$(cat "$WORK/out")" != "$V" ]] || fail "changing src/main.c did not change the version"
chmod 644 "$CTX/run.sh"
run version "$CTX" && [[ "$(cat "$WORK/out")" != "$V" ]] || fail "dropping the executable bit did not change the version"
chmod 755 "$CTX/run.sh"

declare -A seen=(["$V"]="no options")
for opts in "--build-arg MODE=prod" "--build-arg MODE=dev" "--build-arg MODE=prod --build-arg X=1" \
    "--target build" "--platform linux/arm64" "--file docs/Dockerfile.alt"; do
    # shellcheck disable=SC2086
    run version $opts "$CTX" || { fail "kiln version $opts: $(cat "$WORK/err")"; continue; }
    v="$(cat "$WORK/out")"
    [[ "$v" =~ ^v-[0-9a-f]{10}$ ]] || fail "kiln version $opts printed '$v'"
    [[ -z "${seen[$v]:-}" ]] || fail "kiln version $opts gives $v, the same as '${seen[$v]}'"
    seen[$v]="$opts"
done
run version --build-arg MODE=prod "$CTX" && a="$(cat "$WORK/out")"
run version --build-arg=MODE=prod "$CTX" && [[ "$(cat "$WORK/out")" == "$a" ]] || fail "--build-arg=NAME=VALUE differs from --build-arg NAME=VALUE"

# A Dockerfile outside the root travels under a generated name, with a
# .dockerignore that names it, as `docker build -f` does.
printf 'FROM scratch\nCOPY . /outside/\n' >"$WORK/Outside.Dockerfile"
run version --files --file "$WORK/Outside.Dockerfile" "$CTX" || fail "--file outside the root: $(cat "$WORK/err")"
grep -qE '^\.kiln-dockerfile\.[0-9a-f]{12}$' "$WORK/out" || fail "--file outside the root: no .kiln-dockerfile.* entry in $(cat "$WORK/out")"
lib_out="$("$LIST" "$CTX" "$WORK/Outside.Dockerfile")"
jq -r '.entries[].path' <<<"$lib_out" | LC_ALL=C sort | diff -q - "$WORK/out" >/dev/null ||
    fail "--file outside the root: the CLI's list differs from the library's"
run version --file "$WORK/Outside.Dockerfile" "$CTX" && [[ -z "${seen[$(cat "$WORK/out")]:-}" ]] ||
    fail "a Dockerfile outside the root gives the version of '${seen[$(cat "$WORK/out")]:-?}'"

# --- context: the tar stream --------------------------------------------------
# tar -t names directories with a trailing slash; --files does not.
tar_names() { sed 's#/$##' | LC_ALL=C sort; }
run context -o "$WORK/ctx.tar" "$CTX" || fail "kiln context -o FILE: $(cat "$WORK/err")"
[[ -s "$WORK/out" ]] && fail "kiln context -o FILE wrote to stdout"
tar -tf "$WORK/ctx.tar" | tar_names >"$WORK/tar-files" || fail "tar cannot list the archive"
diff -u "$WORK/files" "$WORK/tar-files" >"$WORK/diff" || fail "the tar's names differ from --files: $(cat "$WORK/diff")"
[[ ! -e "$WORK/ctx.tar.kiln-partial" ]] || fail "a .kiln-partial file was left behind"
mkdir "$WORK/unpacked" && tar -xf "$WORK/ctx.tar" -C "$WORK/unpacked" || fail "tar cannot extract the archive"
cmp -s "$CTX/src/main.c" "$WORK/unpacked/src/main.c" || fail "src/main.c differs after extraction"
[[ -x "$WORK/unpacked/run.sh" ]] || fail "run.sh lost its executable bit"
[[ "$(readlink "$WORK/unpacked/link")" == src/main.c ]] || fail "link is not the symlink to src/main.c"

"$KILN" context -o - "$CTX" 2>"$WORK/err" | tar -tf - | tar_names >"$WORK/stdout-files"
diff -q "$WORK/files" "$WORK/stdout-files" >/dev/null || fail "kiln context -o - lists $(cat "$WORK/stdout-files")"

run context --gzip -o "$WORK/ctx.tar.gz" "$CTX" || fail "kiln context --gzip: $(cat "$WORK/err")"
gzip -t "$WORK/ctx.tar.gz" || fail "gzip -t rejects the --gzip stream"
tar -tzf "$WORK/ctx.tar.gz" | tar_names | diff -q "$WORK/files" - >/dev/null || fail "the gzip'd tar lists other names"
run context --gzip-level 9 -o "$WORK/ctx9.tar.gz" "$CTX" && gzip -t "$WORK/ctx9.tar.gz" || fail "--gzip-level 9"
zcat "$WORK/ctx.tar.gz" | cmp -s - "$WORK/ctx.tar" || fail "the gzip'd stream does not decompress to the plain one"

run context --zero-mtimes -o "$WORK/z1.tar" "$CTX" || fail "--zero-mtimes: $(cat "$WORK/err")"
TZ=UTC tar -tvf "$WORK/z1.tar" | grep -v ' 1970-01-01 ' >/dev/null && fail "--zero-mtimes left an mtime: $(tar -tvf "$WORK/z1.tar" | head -3)"
# The copy (other mtimes, a changed ignored file) with the original content.
cp "$CTX/src/main.c" "$WORK/copy/src/main.c"
run context --zero-mtimes -o "$WORK/z2.tar" "$WORK/copy" || fail "--zero-mtimes: $(cat "$WORK/err")"
cmp -s "$WORK/z1.tar" "$WORK/z2.tar" || fail "--zero-mtimes streams of the same content differ"

run context --file docs/Dockerfile.alt -o "$WORK/alt.tar" "$CTX" || fail "context --file: $(cat "$WORK/err")"
tar -tf "$WORK/alt.tar" | grep -xF docs/Dockerfile.alt >/dev/null || fail "context --file: the Dockerfile is not in the stream"

# --- bad input ------------------------------------------------------------------
expect_error() {
    local pattern="$1"; shift
    local status err
    "$KILN" "$@" >"$WORK/out" 2>"$WORK/err"
    status=$?
    err="$(cat "$WORK/err")"
    [[ $status -eq 1 ]] || fail "kiln $*: exit status $status, expected 1"
    [[ ! -s "$WORK/out" ]] || fail "kiln $*: printed '$(cat "$WORK/out")' on stdout"
    [[ "$(wc -l <"$WORK/err")" -eq 1 && "$err" == "kiln: "* ]] || fail "kiln $*: stderr is not one 'kiln:' line: $err"
    [[ "$err" =~ $pattern ]] || fail "kiln $*: '$err' does not match '$pattern'"
}
expect_error "'$WORK/missing' does not exist" version "$WORK/missing"
expect_error "'$WORK/missing' does not exist" context -o "$WORK/never.tar" "$WORK/missing"
[[ -e "$WORK/never.tar" ]] && fail "a failed kiln context created its output file"
expect_error "is not a directory" version "$CTX/Dockerfile"
mkdir "$WORK/nodockerfile" && printf 'x\n' >"$WORK/nodockerfile/a"
expect_error "Dockerfile 'Dockerfile' not found in the build context '$WORK/nodockerfile'" version "$WORK/nodockerfile"
expect_error "Dockerfile 'nope/Dockerfile' not found" version --file nope/Dockerfile "$CTX"
expect_error "Dockerfile '$WORK/none.Dockerfile' does not exist" version --file "$WORK/none.Dockerfile" "$CTX"
expect_error "leaves the build context" version --file ../Outside.Dockerfile "$CTX"
expect_error "--build-arg takes NAME=VALUE, got 'MODE'" version --build-arg MODE "$CTX"
expect_error "needs -o FILE" context "$CTX"
expect_error "--gzip-level must be 0 to 9" context --gzip-level 12 -o "$WORK/x.tar" "$CTX"
expect_error "unknown option --bogus" version --bogus "$CTX"
expect_error "usage: kiln version CONTEXT" version
expect_error "cannot create '$WORK/no/such/dir/x.tar.kiln-partial'" context -o "$WORK/no/such/dir/x.tar" "$CTX"

# Unreadable files and directories, as an unprivileged user (root reads all).
if command -v setpriv >/dev/null && [[ $(id -u) -eq 0 ]]; then
    chmod -R a+rX "$CTX"
    printf 'secret\n' >"$CTX/src/secret.txt" && chmod 000 "$CTX/src/secret.txt"
    # A copy of the tool, so that nobody can run it wherever the build is.
    cp "$KILN" "$WORK/kiln" && chmod 755 "$WORK/kiln"
    AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    if "${AS_NOBODY[@]}" "$WORK/kiln" --help >/dev/null 2>&1; then
        KILN_REAL="$KILN"
        KILN="$WORK/as-nobody"
        printf '#!/bin/bash\nexec setpriv --reuid=65534 --regid=65534 --clear-groups %q "$@"\n' "$WORK/kiln" >"$KILN"
        chmod 755 "$KILN"
        expect_error "cannot read 'src/secret.txt' in the build context: Permission denied" version "$CTX"
        # Into a device: the stream stops at the unreadable file with an error.
        expect_error "cannot read 'src/secret.txt'" context -o /dev/null "$CTX"
        chmod 644 "$CTX/src/secret.txt" && chmod 000 "$CTX/src/lib"
        expect_error "cannot read directory 'src/lib' in the build context: Permission denied" version --files "$CTX"
        chmod 755 "$CTX/src/lib"
        KILN="$KILN_REAL"
    else
        fail "cannot run $KILN as nobody (setpriv); the unreadable-file checks did not run"
    fi
    rm -f "$CTX/src/secret.txt"
fi

if ((failures)); then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "kiln version/context CLI: all checks passed"

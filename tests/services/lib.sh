# shellcheck shell=bash disable=SC2034
# Shared by up, down and check: where the state lives, which ports are used,
# and how a started process is recognised as ours. Sourced, not executed.

KILN_SERVICES_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KILN_REPO_ROOT="$(cd "$KILN_SERVICES_HERE/../.." && pwd)"

S="${KILN_SERVICES_DIR:-/tmp/kiln-services}"
# The port base can be moved so that a second state dir (for example a test of
# `up` from scratch) can run beside the shared one without a port clash.
PORT_BASE="${KILN_SERVICES_PORT_BASE:-5100}"
if ! [[ "$PORT_BASE" =~ ^[0-9]+$ ]] || ((PORT_BASE < 1024 || PORT_BASE > 65500)); then
    echo "kiln services: KILN_SERVICES_PORT_BASE='$PORT_BASE' must be a number between 1024 and 65500" >&2
    exit 2
fi

P_PLAIN=$((PORT_BASE + 0))
P_TLS=$((PORT_BASE + 1))
P_BASIC=$((PORT_BASE + 2))
P_TOKEN=$((PORT_BASE + 3))
P_TOKENSRV=$((PORT_BASE + 4))
P_NODELETE=$((PORT_BASE + 5))
P_READONLY=$((PORT_BASE + 6))
P_MTLS=$((PORT_BASE + 7))

REGISTRIES=(plain tls basic token nodelete readonly mtls)

RUN="$S/run"
LOGS="$S/logs"
TLSDIR="$S/tls"
DOCKER_DIR="$S/docker"
DOCKER_SOCK="$S/docker.sock"
TEST_USER="kiln-test"

# The clean environment every service runs in: distribution reads REGISTRY_*
# variables and dockerd reads proxy variables, neither may leak in from the caller.
SERVICE_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$S" LANG=C.UTF-8)

say() { echo "kiln services: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

registry_port() {
    case "$1" in
    plain) echo "$P_PLAIN" ;; tls) echo "$P_TLS" ;; basic) echo "$P_BASIC" ;;
    token) echo "$P_TOKEN" ;; nodelete) echo "$P_NODELETE" ;; readonly) echo "$P_READONLY" ;;
    mtls) echo "$P_MTLS" ;; *) return 1 ;;
    esac
}

# A pid file alone is not proof: after a reboot or a CI teardown the number may
# belong to anything, so the process must also carry the state dir in its command line.
# Killed children of an exited parent can stay zombies for a while on this
# machine (pid 1 reaps late); kill -0 succeeds on those, so look at the state too.
alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

pid_of() {
    local f="$RUN/$1.pid" pid
    [[ -s "$f" ]] || return 1
    pid="$(<"$f")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$S" || return 1
    echo "$pid"
}

stop_service() {
    local name="$1" pid i
    pid="$(pid_of "$name")" || { rm -f "$RUN/$name.pid" "$RUN/$name.spec"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    # dockerd stops its containers and containerd first, which can take a while.
    for ((i = 0; i < 200; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        say "$name (pid $pid) did not stop on TERM, killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$RUN/$name.pid" "$RUN/$name.spec"
}

# dockerd's own containerd outlives a killed dockerd, and its pid file then makes
# a new dockerd wait for a containerd that is gone or a zombie. Stop ours and
# drop the pid file before dockerd starts.
clear_stale_containerd() {
    local f="$DOCKER_DIR/exec/containerd/containerd.pid" pid i
    [[ -f "$f" ]] || return 0
    pid="$(<"$f")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DOCKER_DIR/exec/containerd/"; then
        say "stopping the containerd (pid $pid) left behind by an earlier dockerd"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
}

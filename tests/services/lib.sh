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
pid_of() {
    local f="$RUN/$1.pid" pid
    [[ -s "$f" ]] || return 1
    pid="$(<"$f")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$S" || return 1
    echo "$pid"
}

stop_service() {
    local name="$1" pid i
    pid="$(pid_of "$name")" || { rm -f "$RUN/$name.pid" "$RUN/$name.spec"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    # dockerd stops its containers and containerd first, which can take a while.
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) did not stop on TERM, killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$RUN/$name.pid" "$RUN/$name.spec"
}

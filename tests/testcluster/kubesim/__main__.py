"""python3 -m kubesim --state-dir D --port P --cert C --key K --ca CA --tokens F --docker-host unix://..."""

import argparse
import json
import os
import signal
import sys
import threading

from .cluster import Cluster
from .server import Server


def main():
    ap = argparse.ArgumentParser(prog="kubesim")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int, default=5243)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--tokens", required=True, help="JSON file {token: user}")
    ap.add_argument("--docker-host", default=os.environ.get("DOCKER_HOST", ""))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--infra-image", default="kiln-test/busybox:latest", help="busybox-like image for the pod sandbox")
    ap.add_argument("--loopback-services", default="", help="JSON file mapping ns/name:port to 127.0.0.1:port")
    a = ap.parse_args()
    with open(a.tokens) as f:
        tokens = json.load(f)
    with open(a.ca) as f:
        ca_pem = f.read()
    cluster = Cluster(a.state_dir, a.docker_host, a.verbose, ca_pem)
    cluster.loopback_services_file = a.loopback_services
    cluster.tokens = tokens
    cluster.api_port = a.port
    from . import kubelet
    kubelet.INFRA_IMAGE = a.infra_image
    cluster.start()
    srv = Server(("127.0.0.1", a.port), cluster, a.cert, a.key, a.ca, tokens)

    def stop(*_):
        cluster.stopping = True
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"kubesim listening on https://127.0.0.1:{a.port}", file=sys.stderr, flush=True)
    srv.serve_forever(poll_interval=0.2)
    if cluster.kubelet:
        cluster.kubelet.shutdown()


if __name__ == "__main__":
    main()

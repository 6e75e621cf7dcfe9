"""Public images that cannot be pulled here, replaced by local equivalents that
`up` builds from Debian packages (the pod status still names the original)."""

import re

SUBSTITUTES = [
    # the CNCF distribution registry: Debian's docker-registry 2.8 behind the
    # official image's entrypoint and default configuration
    (re.compile(r"^(docker\.io/)?(library/)?registry(:2(\.[\w.-]*)?|:latest)?(@sha256:[0-9a-f]{64})?$"), "kiln-test/registry:2"),
    (re.compile(r"^(docker\.io/)?distribution/distribution(:2(\.[\w.-]*)?)?(@sha256:[0-9a-f]{64})?$"), "kiln-test/registry:2"),
]


def substitute(image):
    for rx, local in SUBSTITUTES:
        if rx.match(image or ""):
            return local
    return None

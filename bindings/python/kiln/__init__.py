"""Python binding of libkiln (ctypes, no compiled extension)."""
from ._lib import Cancel, KilnError, version  # noqa: F401
from . import registry  # noqa: F401,E402
from . import context  # noqa: F401,E402
from . import kube  # noqa: F401,E402

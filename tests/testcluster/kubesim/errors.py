"""Kubernetes `Status` errors, worded as the real API server words them."""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            st["details"] = self.details
        if not self.reason:
            del st["reason"]
        return st


def qualified(res):
    return f"{res.plural}.{res.group}" if res.group else res.plural


def _details(res, name, kind=None):
    d = {"name": name}
    if res.group:
        d["group"] = res.group
    d["kind"] = kind or res.plural
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", f'{qualified(res)} "{name}" not found', _details(res, name))


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{qualified(res)} "{name}" already exists', _details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes to the latest version and try again"):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(res)} "{name}": {why}',
                    _details(res, name))


def invalid(res, name, causes):
    """causes: list of (reason, field, message-tail) where message-tail is e.g. 'Required value'."""
    parts = [f"{field}: {msg}" for _, field, msg in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    d = _details(res, name, res.kind)
    d["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return ApiError(422, "Invalid", f'{res.kind}{"." + res.group if res.group else ""} "{name}" is invalid: {joined}', d)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", message, {})


def gone(message):
    return ApiError(410, "Expired", message)


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(message):
    return ApiError(403, "Forbidden", message)


def generic_not_found():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})

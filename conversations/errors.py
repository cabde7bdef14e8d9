"""Domain errors; the gateway maps them to HTTP status codes in one middleware."""


class DomainError(Exception):
    """Base for errors a caller can act on."""

    status = 400


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The conversation is not in a state that allows the action (409)."""

    status = 409


class InvalidRequest(DomainError):
    status = 400

"""Domain errors raised by services; each app maps them to HTTP answers in one place."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    status_code = 422


def first_line(exc: BaseException) -> str:
    """The first line of an error's own message (drivers add pages of context)."""
    return (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0]

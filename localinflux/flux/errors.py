"""Errors the Flux engine raises, each carrying the HTTP status and platform code it maps to."""

from __future__ import annotations


class FluxError(Exception):
    """Any failure of a query; ``status``/``code`` say how the HTTP layer reports it."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


Loc = tuple[int, int, int, int]  # start line, start column, end line, end column (1-based)


def loc_text(loc: Loc) -> str:
    return f"@{loc[0]}:{loc[1]}-{loc[2]}:{loc[3]}"


class CompileError(FluxError):
    """A syntax error; InfluxDB prefixes these with ``compilation failed``."""

    def __init__(self, message: str, loc: Loc) -> None:
        super().__init__(f"compilation failed: error at {loc_text(loc)}: {message}")
        self.loc = loc


class SemanticError(FluxError):
    """A well-formed query that does not type-check (undefined identifier, bad argument)."""

    def __init__(self, message: str, loc: Loc) -> None:
        super().__init__(f"error {loc_text(loc)}: {message}")
        self.loc = loc


class NotSupported(FluxError):
    """Valid Flux this small server does not implement: refuse rather than answer wrongly."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not supported by this server")


def function_not_supported(name: str) -> NotSupported:
    return NotSupported(f'function "{name}"')

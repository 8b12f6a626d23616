"""The one exception a request handler raises for a client's mistake: an HTTP status and a reason."""

from __future__ import annotations

__all__ = ["RequestError"]


class RequestError(ValueError):
    """A request the server refuses, with the 4xx status to answer and a message naming the problem.

    Parameters
    ----------
    status : int
        400 (a body that cannot be evaluated), 406, 408, 413 or 415.
    message : str
        What is wrong, naming the row, line, record or header at fault.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

"""The exceptions of cosmocopy: one hierarchy rooted in :class:`Error`.

Every exception carries the engine's figures: ``code`` (a negative number, as the C API returns
it), ``code_name`` (``"EINVAL"``...), ``domain`` (``"engine"``, ``"mongo"``, ``"http"``, ``"tls"``,
``"os"``: which layer produced it) and ``cause`` (that layer's own code: a server error code, an
HTTP status, an errno). A job that failed attaches its :class:`~cosmocopy.Result` as ``result``,
so the windows that did complete are known. Messages never hold a secret.

Example::

    try:
        cosmocopy.backup(source=uri, db="shop", to="dir:/backups/shop")
    except cosmocopy.ThrottledError as e:
        print("still throttled after the retries:", e, e.result.windows_written, "windows done")
    except cosmocopy.Error as e:
        print(e.code_name, e.domain, e.cause, e)
"""

from __future__ import annotations

import builtins
import errno
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .results import Result

__all__ = [
    "Error",
    "UsageError",
    "NotFoundError",
    "AuthenticationError",
    "ConnectionError",
    "TimeoutError",
    "ThrottledError",
    "ServerError",
    "SinkError",
    "CorruptError",
    "BusyError",
    "MismatchError",
    "RejectedError",
    "PartialError",
    "CancelledError",
    "StoppedError",
]

# The C API's codes (cosmocopy/error.h).
EINVAL, ENOTFOUND, EAUTH, ETHROTTLED, ETIMEDOUT, ECANCELED, EIO, ENOMEM = range(-1, -9, -1)
ESERVER, ENETWORK, ECORRUPT, EBUSY, EPARTIAL, EMISMATCH, EREJECTED, ESTOPPED = range(-9, -17, -1)

_CODE_NAMES = {
    EINVAL: "EINVAL", ENOTFOUND: "ENOTFOUND", EAUTH: "EAUTH", ETHROTTLED: "ETHROTTLED",
    ETIMEDOUT: "ETIMEDOUT", ECANCELED: "ECANCELED", EIO: "EIO", ENOMEM: "ENOMEM",
    ESERVER: "ESERVER", ENETWORK: "ENETWORK", ECORRUPT: "ECORRUPT", EBUSY: "EBUSY",
    EPARTIAL: "EPARTIAL", EMISMATCH: "EMISMATCH", EREJECTED: "EREJECTED", ESTOPPED: "ESTOPPED",
}
_DOMAINS = {1: "engine", 2: "mongo", 3: "http", 4: "tls", 5: "os"}


class Error(Exception):
    """Something cosmocopy could not do. The base of every exception it raises.

    Attributes:
        message: one line for a person, secrets masked.
        code: the engine's code (negative; see ``code_name``), 0 when not from the engine.
        code_name: the code's symbolic name, such as ``"EINVAL"``.
        domain: the layer that failed: ``"engine"``, ``"mongo"``, ``"http"``, ``"tls"``, ``"os"``.
        cause: that layer's own code (server error code, HTTP status, errno...).
        result: the job's :class:`~cosmocopy.Result` when a job failed, else ``None``.
    """

    default_code = 0

    def __init__(self, message: str, *, code: int | None = None, domain: str = "engine",
                 cause: int = 0, result: Result | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = self.default_code if code is None else code
        self.domain = domain
        self.cause = cause
        self.result = result
        # the texts of the message that name an argument, each with its keyword (named())
        self._arguments: dict[str, str] = {}

    @property
    def code_name(self) -> str:
        return _CODE_NAMES.get(self.code, "EUNKNOWN" if self.code else "OK")

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, code_name={self.code_name!r}, "
                f"domain={self.domain!r}, cause={self.cause})")

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable (a distributed runner sends exceptions between processes)
        # with the job's result and the arguments the message names (set back as state)
        state = {"result": self.result, "_arguments": dict(self._arguments)}
        if isinstance(self, _MissingInput):  # its shown name is UsageError's: rebuilt by name
            return (_rebuild_missing, (self.message, self.code, self.domain, self.cause), state)
        cls = UsageError if isinstance(self, _UnknownArgument) else type(self)
        return (_rebuild, (cls, self.message, self.code, self.domain, self.cause), state)


def _rebuild(cls: type[Error], message: str, code: int, domain: str, cause: int) -> Error:
    return cls(message, code=code, domain=domain, cause=cause)


def _rebuild_missing(message: str, code: int, domain: str, cause: int) -> Error:
    return _MissingInput(message, code=code, domain=domain, cause=cause)


_E = TypeVar("_E", bound=Error)


def named(exc: _E, arguments: Mapping[str, str]) -> _E:
    """``exc``, noted as naming arguments: for each text of its message that names one
    (``backup(source=****)``, ``target_db=``), that argument's keyword. A caller that calls
    the arguments otherwise (a drop-in script's flags) rewords the message with it."""
    exc._arguments = {**exc._arguments, **arguments}
    return exc


class UsageError(Error, ValueError):
    """Bad input: an argument, option value, time, or connection string (EINVAL). Fix the input;
    nothing was touched."""

    default_code = EINVAL


class _UnknownArgument(UsageError, TypeError):
    """A keyword argument the function does not take (also a TypeError, as Python has it)."""


class NotFoundError(Error, LookupError):
    """A database, collection, folder, container, window or secret does not exist (ENOTFOUND).
    A backup folder or container named to read that does not exist is also a
    :class:`UsageError` (code EINVAL): bad input, as the command's exit 2 says."""

    default_code = ENOTFOUND


class _MissingInput(UsageError, NotFoundError):
    """A backup folder or container named to read that does not exist: bad input (EINVAL, the
    command's exit 2) and, as :func:`~cosmocopy.open_backup` says, a :class:`NotFoundError`."""


class AuthenticationError(Error, PermissionError):
    """Authentication or authorisation was refused (EAUTH)."""

    default_code = EAUTH


class ConnectionError(Error, builtins.ConnectionError):
    """A server could not be reached, or the connection kept failing past the retries
    (ENETWORK). Also a Python ``ConnectionError``."""

    default_code = ENETWORK


class TimeoutError(ConnectionError, builtins.TimeoutError):
    """A host did not answer in time (ETIMEDOUT). Also a Python ``TimeoutError``."""

    default_code = ETIMEDOUT


class ThrottledError(Error):
    """The server kept throttling (Cosmos DB error 16500) past the retry budget (ETHROTTLED).
    Completed windows are kept: run again, perhaps with a lower ``max_ru``."""

    default_code = ETHROTTLED


class ServerError(Error):
    """The server answered with an error that retrying cannot fix (ESERVER)."""

    default_code = ESERVER


class SinkError(Error, OSError):
    """The destination (folder, blob container) could not be written or read (EIO; ``cause``
    holds the errno or HTTP status)."""

    default_code = EIO


class CorruptError(SinkError):
    """Stored data does not match its manifest (ECORRUPT): size, SHA-256 or document count."""

    default_code = ECORRUPT


class BusyError(SinkError):
    """Another job holds the destination's lock (EBUSY)."""

    default_code = EBUSY


class MismatchError(Error):
    """verify compared and found windows that differ (EMISMATCH); ``result.verdicts`` says
    which and how."""

    default_code = EMISMATCH


class RejectedError(Error):
    """The target refused some documents for good, too large for instance (EREJECTED);
    ``result.rejected`` lists them."""

    default_code = EREJECTED


class PartialError(Error):
    """EPARTIAL, which this version's engine does not return: a job whose windows failed raises
    the first failure's class (:class:`NetworkError`, :class:`ThrottledError`...), its
    ``result`` counting them (``windows_failed``)."""

    default_code = EPARTIAL


class CancelledError(Error):
    """The job was cancelled (:meth:`Job.cancel`, or Ctrl-C re-raised as ``KeyboardInterrupt``)
    (ECANCELED). Completed windows are kept; running again continues."""

    default_code = ECANCELED


class StoppedError(Error):
    """A callback asked the job to stop (ESTOPPED); completed windows are kept. An exception
    raised in a callback is re-raised itself, not as this."""

    default_code = ESTOPPED


# Tracebacks and reprs name the classes where users import them: cosmocopy.ThrottledError. An
# unknown keyword argument shows as the UsageError it is (it is also a TypeError, as Python has
# it); it unpickles as a UsageError.
for _cls in (Error, *(globals()[_n] for _n in __all__ if _n != "Error")):
    _cls.__module__ = "cosmocopy"
for _cls in (_UnknownArgument, _MissingInput):
    _cls.__module__ = "cosmocopy"
    _cls.__name__ = _cls.__qualname__ = "UsageError"

_BY_CODE: dict[int, type[Error]] = {
    EINVAL: UsageError, ENOTFOUND: NotFoundError, EAUTH: AuthenticationError,
    ETHROTTLED: ThrottledError, ETIMEDOUT: TimeoutError, ECANCELED: CancelledError,
    EIO: SinkError, ENOMEM: Error, ESERVER: ServerError, ENETWORK: ConnectionError,
    ECORRUPT: CorruptError, EBUSY: BusyError, EPARTIAL: PartialError, EMISMATCH: MismatchError,
    EREJECTED: RejectedError, ESTOPPED: StoppedError,
}


def error_class(code: int, domain: str = "engine", cause: int = 0) -> type[Error]:
    """The exception class for an engine code (and, for a location to read that does not exist,
    its domain and cause: a folder, ENOENT; a container, HTTP 404)."""
    if code == EINVAL and (domain, cause) in (("os", errno.ENOENT), ("http", 404)):
        return _MissingInput
    return _BY_CODE.get(code, Error)


def from_engine(code: int, domain: int, cause: int, message: str,
                result: Result | None = None) -> Error:
    """The exception for an engine error (code, domain number, cause, message)."""
    name = _DOMAINS.get(domain, "engine")
    return error_class(code, name, cause)(message or _CODE_NAMES.get(code, "error"), code=code,
                                          domain=name, cause=cause, result=result)


def from_summary(error: dict[str, Any], result: Result | None = None) -> Error:
    """The exception for the ``error`` object of a JSON summary."""
    names = {v: k for k, v in _CODE_NAMES.items()}
    code = names.get(error.get("code", ""), 0)
    domain, cause = error.get("domain", "engine"), int(error.get("cause", 0) or 0)
    return error_class(code, domain, cause)(error.get("message", ""), code=code, domain=domain,
                                            cause=cause, result=result)

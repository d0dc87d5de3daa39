"""cosmocopy: incremental, throttling-aware backup and replication of Azure Cosmos DB for
MongoDB collections, from Python at C speed.

The commands of the ``cosmocopy`` tool are functions with the same options as keyword
arguments; each returns a :class:`Result` with the figures of the command's JSON summary::

    import cosmocopy

    result = cosmocopy.backup(source="mongodb://...", db="shop", to="dir:/backups/shop",
                              incremental=True)
    print(result.windows_written, "windows,", result.documents, "documents")

    for window in cosmocopy.open_backup("dir:/backups/shop").windows(db="shop"):
        for doc in window.read(decode=True):
            ...

A :class:`Job` gives control over the steps (plan, run one task, progress from any thread,
cancel). Errors are :class:`Error` subclasses; engine log lines go to the ``logging`` logger
``"cosmocopy"``. Secrets (passwords, account keys, SAS signatures) never appear in an
exception, a ``repr`` or a log record.
"""

from __future__ import annotations

import atexit as _atexit
import logging as _logging

from ._native import api as _e


def _driver_log(level: int, domain: str, message: str) -> None:
    logger = _logging.getLogger("cosmocopy")
    if level == 1:
        logger.warning("connection string: %s (ignored)", message)
    else:
        logger.error("%s: %s", domain, message)


# libmongoc's log lines to the "cosmocopy" logger, set before the driver starts (as the command
# does); handed back to nothing at exit, before the interpreter goes away
_e.cosmocopy_set_driver_log(_driver_log)
_atexit.register(_e.cosmocopy_set_driver_log, None)
_e.ccopy_init()  # reference-counted; never undone (a host may still use libmongoc)

from ._api import Plan, backup, options, plan, replicate, restore, verify  # noqa: E402
from ._options import Option  # noqa: E402
from .catalog import Backup, BackupWindow, Listing, list_windows, open_backup  # noqa: E402
from .errors import (  # noqa: E402
    AuthenticationError,
    BusyError,
    CancelledError,
    ConnectionError,
    CorruptError,
    Error,
    MismatchError,
    NotFoundError,
    PartialError,
    RejectedError,
    ServerError,
    SinkError,
    StoppedError,
    ThrottledError,
    TimeoutError,
    UsageError,
)
from .job import Job, Progress, Task  # noqa: E402
from .results import (  # noqa: E402
    CollectionResult,
    PlannedWindow,
    Record,
    RequestUnits,
    Result,
    Verdict,
    WindowOutcome,
)

__version__: str = _e.ccopy_version()

# `cosmocopy.list` as the command is called; list_windows is the same function
list = list_windows  # noqa: A001

__all__ = [
    "backup", "replicate", "restore", "verify", "plan", "list_windows", "list", "options",
    "open_backup", "Job", "Task", "Progress", "Result", "WindowOutcome", "Verdict",
    "CollectionResult", "RequestUnits", "PlannedWindow", "Plan", "Record", "Backup",
    "BackupWindow", "Listing", "Option",
    "Error", "UsageError", "NotFoundError", "AuthenticationError", "ConnectionError",
    "TimeoutError", "ThrottledError", "ServerError", "SinkError", "CorruptError", "BusyError",
    "MismatchError", "RejectedError", "PartialError", "CancelledError", "StoppedError",
    "__version__",
]

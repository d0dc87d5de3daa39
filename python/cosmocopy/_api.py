"""The commands as functions: backup, replicate, restore, verify, plan, options.

Each job function is ``Job(command, **options).run()``: its keyword arguments are the options
of the command (``cosmocopy <command> --help``), named as the option or as the command's flag
with ``-`` as ``_`` (``to``, ``to_db``, ``max_ru``); ``from`` is written ``from_``.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import time
from collections.abc import Callable
from typing import Any

from . import _options, errors, job as _job
from ._native import api as _e
from ._options import Option
from .job import Progress
from .results import PlannedWindow, Record, Result

__all__ = ["backup", "replicate", "restore", "verify", "plan", "options", "Plan"]

ProgressCallback = Callable[[Progress], object]


def backup(*, progress: ProgressCallback | None = None, **options: Any) -> Result:
    return _job.run("backup", progress, options)


def replicate(*, progress: ProgressCallback | None = None, **options: Any) -> Result:
    return _job.run("replicate", progress, options)


def restore(*, progress: ProgressCallback | None = None, **options: Any) -> Result:
    return _job.run("restore", progress, options)


def verify(*, progress: ProgressCallback | None = None, **options: Any) -> Result:
    return _job.run("verify", progress, options)


_INTRO = {
    "backup": """Back up collections to a folder or Azure Blob Storage, one window at a time.

Windows already complete in the destination's catalog are skipped, so running it again (from
cron, after a failure) copies only what is missing. Returns the :class:`Result` (the figures of
``cosmocopy backup --json``); raises a :class:`cosmocopy.Error` subclass when the backup failed,
with ``.result`` telling what did complete.

Example::

    result = cosmocopy.backup(source="mongodb://...", db="shop", collection=["orders"],
                              to="dir:/backups/shop", incremental=True, compress="zstd")
    print(result.windows_written, result.documents, result.request_units.charged)
""",
    "replicate": """Copy collections into another Cosmos DB / MongoDB server, window by window.

Every write is an upsert by ``_id``, so a window copied twice leaves the same documents; the
target keeps its own catalog of completed windows. Returns the :class:`Result`.

Example::

    cosmocopy.replicate(source=src_uri, db="shop", target=dst_uri, incremental=True)
""",
    "restore": """Restore a backup (folder, Azure Blob) into a server.

Every window is written again when run again (bulk upserts by ``_id``: a restore is
idempotent, so run it again after a failure). Returns the :class:`Result`.

Example::

    cosmocopy.restore(from_="dir:/backups/shop", target=uri, db="shop", to_db="shop_copy")
""",
    "verify": """Check a backup (or a replica) against its source.

``result.status`` is "ok" when everything matches, "differs" otherwise (then
:class:`MismatchError` is raised, with ``.result.verdicts`` per window).

Example::

    cosmocopy.verify(source=uri, db="shop", backup="dir:/backups/shop")
""",
}

_COMMON = """
Arguments:
    progress: called with a :class:`Progress` about ten times a second and at phase changes,
        on the thread that runs the job. An exception it raises stops the job resumably and
        is re-raised here with its traceback.
"""


_KINDS = {"strings": "str or list of str", "int": "int", "duration": "duration", "time": "time",
          "string": "str"}


def _option_lines(command: str) -> str:
    lines = []
    for kw, opts in _options.keywords(command).items():
        shown = "from_" if kw == "from" else kw
        what = []
        for o in opts:
            kind = " | ".join(repr(c) for c in o.choices) if o.type == "enum" else _KINDS[o.type]
            default = f", default {o.default}" if o.default not in (None, "") else ""
            sets = "" if kw == o.name else f"sets {o.name}: "
            what.append(f"{sets}{kind}{default}. {o.doc}")
        lines.append(f"    {shown}: " + "\n        or ".join(what))
    if command in ("backup", "replicate"):
        lines.append("    full, incremental: bool. True chooses that mode (as --full and "
                     "--incremental); a from_ time chooses mode 'range'")
    return "\n".join(lines)


def _signature(command: str) -> inspect.Signature:
    kw_only = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("progress", kw_only, default=None,
                                annotation="Callable[[Progress], object] | None")]
    for kw in _options.keywords(command):
        params.append(inspect.Parameter("from_" if kw == "from" else kw, kw_only, default=None))
    if command in ("backup", "replicate"):
        params += [inspect.Parameter(n, kw_only, default=False, annotation="bool")
                   for n in ("full", "incremental")]
    return inspect.Signature(params, return_annotation="Result")


def _document(fn: Callable[..., Any], command: str) -> None:
    fn.__doc__ = (_INTRO[command] + _COMMON +
                  "\nKeyword arguments (the command's options; None leaves the default;\n"
                  "durations: \"4h\", whole seconds or a timedelta of whole seconds; times:\n"
                  "\"2026-01-01T00:00:00Z\", \"-4h\", a datetime (naive: UTC) or epoch seconds;\n"
                  "yes/no options: True/False):\n\n"
                  + _option_lines(command))
    fn.__signature__ = _signature(command)  # type: ignore[attr-defined]


for _fn, _command in ((backup, "backup"), (replicate, "replicate"), (restore, "restore"),
                      (verify, "verify")):
    _document(_fn, _command)


class Plan(Record):
    """What :func:`plan` returns: ``windows``, a list of :class:`PlannedWindow`, as
    ``cosmocopy plan --json`` prints them; ``to_dict()`` gives that JSON's data."""

    @property
    def windows(self) -> list[PlannedWindow]:
        return [PlannedWindow(w) for w in self._data["windows"]]

    def __getitem__(self, key: str) -> Any:
        if key == "windows":
            return self.windows
        return super().__getitem__(key)

    def __repr__(self) -> str:
        return f"Plan({len(self._data['windows'])} windows)"


def _when(keyword: str, value: Any, now: int) -> int:
    if isinstance(value, bool) or value is None:
        raise errors.UsageError(f"plan({keyword}={value!r}): give a time")
    if isinstance(value, (_dt.datetime, _dt.date, int, float)):
        text = _options._time_text(value, f"plan({keyword}={value!r})")
    elif isinstance(value, str):
        text = value
    else:
        raise errors._UnknownArgument(
            f"plan({keyword}=...): a time is a str, datetime, date or epoch seconds, "
            f"not {type(value).__name__}")
    _options.c_text(text, f"plan({keyword}={value!r})")
    err = _e.ccopy_error_t()
    t = _e.cosmocopy_time_parse(text, now, err)
    if err.code:
        raise errors.UsageError(f"plan({keyword}={value!r}): {err.message}", code=err.code,
                                cause=err.cause)
    return int(t)


def plan(from_: Any = None, to: Any = None, step: str | int | _dt.timedelta = "4h",
         **kwargs: Any) -> Plan:
    """The windows ``[start, end)`` that cover a range, like ``cosmocopy plan --json``.

    Windows are cut at multiples of ``step`` since the epoch (a 4h plan always cuts at 00:00,
    04:00... UTC); the first and last are clipped to the range. ``lo`` and ``hi`` are each
    window's ObjectId bounds. Nothing is contacted.

    Args:
        from_: start of the range (also ``**{"from": ...}``): "2026-01-01T00:00:00Z", a date,
            "@1767225600", "now", "-4h", a datetime (naive: UTC), a date or epoch seconds.
        to: end of the range (exclusive), the same forms.
        step: window length: "30s", "5m", "4h", "1d", "1w", seconds or a timedelta, whole
            seconds from 1s to 4294967296s (2^32 s, as a job's ``step``).

    Example::

        >>> [w.start for w in cosmocopy.plan(from_="2026-01-01", to="2026-01-01T08:00:00Z").windows]
        ['2026-01-01T00:00:00Z', '2026-01-01T04:00:00Z']
    """
    from_ = _options.from_argument("plan", from_, kwargs, plan)
    if from_ is None or to is None:
        raise errors.UsageError("plan(): from_= and to= are required")
    now = int(time.time())
    start, end = _when("from_", from_, now), _when("to", to, now)
    err = _e.ccopy_error_t()
    where = f"plan(step={step!r})"
    if isinstance(step, str):
        seconds = int(_e.cosmocopy_duration_parse(_options.c_text(step, where), err))
        if err.code:
            raise errors.UsageError(f"{where}: {err.message}", code=err.code)
    elif isinstance(step, (_dt.timedelta, int, float)) and not isinstance(step, bool):
        seconds = _options._whole_seconds(step, where) or 0
    else:
        raise errors._UnknownArgument(
            f"plan(step=...): a duration is a str, seconds or a timedelta, not {type(step).__name__}")
    # the bounds of a job's step (option step), so that a plan is one a job can run
    _options._check_bounds(next(o for o in _options.table() if o.name == "step"), seconds, where)
    windows = _e.cosmocopy_plan_cut(start, end, seconds, err)
    if windows is None:
        where = f"step={step!r}" if "step" in err.message else f"from_={from_!r}, to={to!r}"
        raise errors.UsageError(f"plan({where}): {err.message}", code=err.code, cause=err.cause)
    out = []
    for a, b in windows:
        out.append({"start": _stamp(a), "end": _stamp(b), "start_epoch": a, "end_epoch": b,
                    "lo": _e.cosmocopy_oid_hex(a), "hi": _e.cosmocopy_oid_hex(b)})
    return Plan({"windows": out})


def _stamp(t: int) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def options(command: str | None = None, **kwargs: Any) -> list[Option]:
    """The engine's options table (``cosmocopy <command> --help`` in data): every option, or
    those of one command ("backup", "replicate", "restore", "verify").

    Example::

        >>> [o.name for o in cosmocopy.options("backup")][:3]
        ['source', 'db', 'collection']
    """
    _options.no_other_arguments("options", kwargs, options)
    if command is None:
        return list(_options.table())
    if command not in _options.COMMANDS:
        raise errors.UsageError(f"options({command!r}): unknown command "
                                f"(expected one of {', '.join(_options.COMMANDS)})")
    return [o for o in _options.table() if command in o.commands]

"""Results as objects: the figures of the command's JSON summary, as attributes.

A :class:`Result` holds exactly what ``cosmocopy backup --json`` prints (the engine makes both
from the same accessors): every key is an attribute, nested objects are records too, and
``to_dict()`` gives the plain data back. The most used figures are typed properties.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Record", "Result", "WindowOutcome", "Verdict", "CollectionResult", "RequestUnits",
           "PlannedWindow"]


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Record(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Record(Mapping[str, Any]):
    """Read-only data with attribute access (``r.documents``) and mapping access
    (``r["documents"]``); ``to_dict()`` returns a deep copy of the plain data."""

    __slots__ = ("_data",)
    _data: dict[str, Any]

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        if name == "_data" or name.startswith("__"):  # not set yet (copy, pickle) or protocol
            raise AttributeError(name)
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __reduce__(self) -> tuple[Any, ...]:
        # plain data: copies and pickles (a job's Result crosses process pools)
        return (type(self), (self._data,))

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._data))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return bool(self._data == other._data)
        if isinstance(other, Mapping):
            return bool(self._data == dict(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The plain data (a deep copy: JSON types only)."""
        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in list(self._data.items())[:6]
                          if not isinstance(v, (list, dict)))
        return f"{type(self).__name__}({inner}{', ...' if len(self._data) > 6 else ''})"


def _time(text: Any) -> _dt.datetime | None:
    if not isinstance(text, str):
        return None
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class RequestUnits(Record):
    """Request units: ``charged``, ``source`` ("server" or "estimate"), ``per_second``,
    ``budget`` (option max_ru), ``final_pace``."""

    @property
    def charged(self) -> float:
        return float(self._data.get("charged", 0.0))


class WindowOutcome(Record):
    """A window written in this run, as its manifest records it: ``database``, ``collection``,
    ``kind`` ("window" or "non-objectid"), ``start``/``end`` (RFC 3339 text; ``start_time``
    and ``end_time`` as datetimes), ``documents``, ``bytes``, ``stored_bytes``, ``sha256``,
    ``data`` (the object or collection written), ``compression``, ``completed_at``..."""

    @property
    def start_time(self) -> _dt.datetime | None:
        return _time(self._data.get("start"))

    @property
    def end_time(self) -> _dt.datetime | None:
        return _time(self._data.get("end"))


class Verdict(Record):
    """What verify found in one window: ``collection``, ``kind``, ``start``, ``end``,
    ``status`` ("ok" or "differs"), ``source_documents``, ``backup_documents``, ``sha256``
    ("ok" or what was wrong), ``problem``, and with ``deep`` the counts of ``missing``,
    ``extra`` and ``different`` documents with ``examples``."""


class CollectionResult(Record):
    """What one collection contributed: ``name``, ``windows_planned``, ``windows_written``,
    ``documents``, ``bytes``, ``stored_bytes``, ``non_objectid_copied``..."""


class PlannedWindow(Record):
    """A window of :func:`cosmocopy.plan`: ``start``, ``end`` (text), ``start_epoch``,
    ``end_epoch``, ``lo`` and ``hi`` (the ObjectId bounds, hex; ``hi`` is None past the last
    ObjectId second)."""

    @property
    def start_time(self) -> _dt.datetime | None:
        return _time(self._data.get("start"))

    @property
    def end_time(self) -> _dt.datetime | None:
        return _time(self._data.get("end"))


class Result(Record):
    """The outcome of a job: the figures of the command's JSON summary, as attributes.

    ``status`` is "ok", "failed", "canceled", "differs", "stopped" (or "running" while a job
    runs). The lists (``windows``, ``collections``, ``verdicts``) hold records; ``errors``,
    ``warnings`` and ``rejected`` hold text. Everything else the summary has is an attribute
    too (``retries``, ``throttle_events``, ``elapsed_seconds``, ``target_request_units``...).

    Example::

        r = cosmocopy.backup(source=uri, db="shop", to="dir:/backups/shop")
        r.windows_written, r.documents, r.bytes, r.request_units.charged
        for w in r.windows:
            print(w.collection, w.start, w.documents, w.sha256)
        json.dumps(r.to_dict())
    """

    @property
    def ok(self) -> bool:
        """True when the job finished with status "ok"."""
        return bool(self._data.get("status") == "ok")

    @property
    def status(self) -> str:
        return str(self._data.get("status"))

    @property
    def command(self) -> str:
        return str(self._data.get("command"))

    @property
    def windows_planned(self) -> int:
        return int(self._data.get("windows_planned", 0))

    @property
    def windows_written(self) -> int:
        return int(self._data.get("windows_written", 0))

    @property
    def windows_failed(self) -> int:
        return int(self._data.get("windows_failed", 0))

    @property
    def windows_already_complete(self) -> int:
        return int(self._data.get("windows_already_complete", 0))

    @property
    def documents(self) -> int:
        return int(self._data.get("documents", 0))

    @property
    def bytes(self) -> int:
        return int(self._data.get("bytes", 0))

    @property
    def stored_bytes(self) -> int:
        return int(self._data.get("stored_bytes", 0))

    @property
    def request_units(self) -> RequestUnits:
        return RequestUnits(self._data.get("request_units") or {})

    @property
    def target_request_units(self) -> RequestUnits:
        return RequestUnits(self._data.get("target_request_units") or {})

    @property
    def windows(self) -> list[WindowOutcome]:
        """Every window written in this run, by collection then time."""
        return [WindowOutcome(w) for w in self._data.get("windows") or []]

    @property
    def collections(self) -> list[CollectionResult]:
        return [CollectionResult(c) for c in self._data.get("collections") or []]

    @property
    def verdicts(self) -> list[Verdict]:
        return [Verdict(v) for v in self._data.get("verdicts") or []]

    @property
    def errors(self) -> list[str]:
        return list(self._data.get("errors") or [])

    @property
    def warnings(self) -> list[str]:
        return list(self._data.get("warnings") or [])

    def __repr__(self) -> str:
        d = self._data
        return (f"Result(command={d.get('command')!r}, status={d.get('status')!r}, "
                f"windows_written={d.get('windows_written')}, documents={d.get('documents')}, "
                f"bytes={d.get('bytes')})")

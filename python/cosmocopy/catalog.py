"""Reading a backup back: its windows (the manifests) and their documents.

A backup is a catalog of windows, each a manifest and a data object. :func:`open_backup`
opens one (nothing is created or locked, so it is safe while a backup writes to it);
:meth:`Backup.windows` lists the completed windows and :meth:`BackupWindow.read` yields a
window's documents, checked against its manifest (count, size and SHA-256): a window whose data
does not match raises :class:`~cosmocopy.CorruptError` once its documents have been read.

Example::

    backup = cosmocopy.open_backup("dir:/backups/shop")
    for window in backup.windows(db="shop", collection="orders"):
        print(window.start_time, window.documents, "documents")
        for doc in window.read(decode=True):       # dicts (needs pymongo's bson)
            ...
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import _options, errors
from ._native import api as _e
from .results import Record, _time

__all__ = ["Backup", "BackupWindow", "Listing", "open_backup", "list_windows"]

# documents read ahead of the caller by the reading thread (memory stays bounded)
_READ_AHEAD = 256
_END = object()


def _location_text(location: Any, where: str) -> str:
    """The location as the engine takes it; UsageError naming ``where`` (``list_windows(from_)``)
    when it is not a backup's location at all (the engine's reason: no container in a URL...)."""
    if isinstance(location, os.PathLike):
        return "dir:" + str(os.fspath(location))
    if not isinstance(location, str) or not location:
        raise errors._UnknownArgument(
            f"{where}: expected dir:PATH, azblob://CONTAINER[/PREFIX] or a SAS URL, "
            f"not {type(location).__name__}")
    function, _, keyword = where.rstrip(")").partition("(")
    shown = f"{function}({keyword}=****)"  # a location may hold a SAS: never shown
    try:
        problem = _options.location_problem(_options.c_text(location, shown))
    except errors.UsageError as e:
        raise errors.named(e, {shown: keyword}) from None
    if problem is not None:
        raise errors.named(errors.UsageError(f"{shown}: {problem}"), {shown: keyword})
    return location


# Options of how each request to Blob Storage is retried and timed, as for `cosmocopy list`.
_REQUEST_OPTIONS = ("blob_timeout_ms", "retry_budget", "retry_base_ms", "retry_max_delay_ms")


def _catalog_options(blob_connection_string: str | None, where: str,
                     credentials: Mapping[str, Any] | None = None
                     ) -> tuple[Any, dict[str, _options.Given]]:
    """Engine options for reading a catalog: the blob connection string (or a Key Vault
    reference to it), the credential options (``azure_credential``,
    ``managed_identity_client_id``, ``https_ca_file``) and the request options
    (``blob_timeout_ms`` and the retry options); and what gave each, for messages."""
    opts = _e.ccopy_options_t()
    given: dict[str, _options.Given] = {}
    values: dict[str, Any] = dict(credentials or {})
    values["blob_connection_string"] = blob_connection_string
    for name, value in values.items():
        if value is None:
            continue
        shown = f"{where}({name}={'****' if name == 'blob_connection_string' else repr(value)})"
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if name in _REQUEST_OPTIONS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise errors.named(errors._UnknownArgument(f"{shown}: expected an int"),
                                   {shown: name})
            value = str(value)
        if not isinstance(value, str):
            raise errors.named(errors._UnknownArgument(f"{shown}: expected a str"),
                               {shown: name})
        try:
            _options.c_text(value, shown)
        except errors.UsageError as e:
            raise errors.named(e, {shown: name}) from None
        err = _e.ccopy_error_t()
        if _e.ccopy_options_set(opts, name, value, err) != 0:
            message = err.message
            if message.startswith(f"option {name}: "):
                message = message[len(f"option {name}: "):]
            raise errors.named(errors.UsageError(f"{shown}: {message}", code=err.code,
                                                 cause=err.cause), {shown: name})
        given[name] = _options.Given(name, shown, value)
    return opts, given


def _raise(err: Any, given: Mapping[str, _options.Given] | None = None,
           about: tuple[str, str] | None = None) -> None:
    """The exception for an engine error; an option it names is called by its keyword. A
    message that names no option is about ``about`` (how messages show the argument, its
    keyword), when given: it is said first."""
    message, names = _options.explain(err.message, "list", given or {})
    if about and not err.message.startswith("option "):
        message = f"{about[0]}: {message}"
        names = {**names, about[0]: about[1]}
    raise errors.named(errors.from_engine(int(err.code), int(err.domain), int(err.cause),
                                          message), names)


def _decoder(decode: bool | Callable[[bytes], Any]) -> Callable[[bytes], Any] | None:
    if callable(decode):
        return decode
    if not isinstance(decode, bool):
        raise errors._UnknownArgument(
            f"read(decode={decode!r}): give True (dicts, with pymongo's bson), False (raw BSON "
            f"bytes) or a function of the raw bytes, not {type(decode).__name__}")
    if not decode:
        return None
    try:
        import bson
    except ImportError:  # pragma: no cover - depends on the environment
        raise errors.UsageError(
            "read(decode=True) needs the bson package: pip install 'cosmocopy[bson]' "
            "(or pymongo)") from None
    if not hasattr(bson, "decode"):  # the unrelated 'bson' package from PyPI
        raise errors.UsageError("read(decode=True): the installed bson is not pymongo's; "
                                "pip install pymongo")
    return bson.decode


class BackupWindow(Record):
    """A completed window of a backup: its manifest as a record.

    Fields (as ``cosmocopy list --json`` prints them): ``database``, ``collection``, ``kind``
    ("window" or "non-objectid"), ``window`` (``start``, ``end``, ``start_epoch``,
    ``end_epoch``; None for the non-ObjectId pass), ``documents``, ``bytes``,
    ``stored_bytes``, ``data`` (the data object), ``sha256``, ``first_id``, ``last_id``,
    ``format``, ``compression``, ``engine_version``, ``completed_at``.
    """

    __slots__ = ("_backup", "_list", "_index")
    _backup: Backup
    _list: Any
    _index: int

    def __init__(self, data: dict[str, Any], backup: Backup, manifests: Any, index: int) -> None:
        super().__init__(data)
        object.__setattr__(self, "_backup", backup)
        object.__setattr__(self, "_list", manifests)
        object.__setattr__(self, "_index", index)

    def __copy__(self) -> BackupWindow:
        return self  # read-only

    def __deepcopy__(self, memo: Any) -> BackupWindow:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(f"cannot pickle a {type(self).__name__}: it reads through the backup "
                        "opened in this process; send to_dict(), or the backup's location to "
                        "open_backup() in the other process")

    @property
    def start_time(self) -> _dt.datetime | None:
        """The window's start as an aware UTC datetime (None for the non-ObjectId pass)."""
        w = self._data.get("window")
        return _time(w.get("start")) if isinstance(w, dict) else None

    @property
    def end_time(self) -> _dt.datetime | None:
        """The window's end (exclusive), or None for the non-ObjectId pass."""
        w = self._data.get("window")
        return _time(w.get("end")) if isinstance(w, dict) else None

    def read(self, decode: bool | Callable[[bytes], Any] = False) -> Iterator[Any]:
        """Yield the window's documents in the order they were written.

        Each is the raw BSON of one document (``bytes``), or with ``decode=True`` a ``dict``
        decoded by pymongo's ``bson`` (``pip install 'cosmocopy[bson]'``), or what
        ``decode(raw)`` returns when ``decode`` is a function (for example
        ``bson.RawBSONDocument``). Compressed and JSON Lines windows are read the same way.

        The data is checked against the manifest as it streams: a mismatch (a truncated,
        altered or missing data object) raises :class:`~cosmocopy.CorruptError` or
        :class:`~cosmocopy.NotFoundError` after the documents that were read. Stopping early
        (``break``) is fine: the reading stops too.
        """
        convert = _decoder(decode)
        return self._backup._read(self._list, self._index, convert)


class Listing(Record):
    """What :func:`list_windows` returns: ``windows``, the completed windows
    (:class:`BackupWindow`), as ``cosmocopy list --json`` prints them; ``to_dict()`` gives
    that JSON's data; ``len()`` of ``windows`` and the totals ``documents``, ``bytes``,
    ``stored_bytes`` as properties."""

    __slots__ = ("_windows",)

    def __init__(self, windows: list[BackupWindow]) -> None:
        super().__init__({"windows": [w.to_dict() for w in windows]})
        object.__setattr__(self, "_windows", windows)

    __copy__ = BackupWindow.__copy__
    __deepcopy__ = BackupWindow.__deepcopy__
    __reduce__ = BackupWindow.__reduce__

    @property
    def windows(self) -> list[BackupWindow]:
        """The windows, each a :class:`BackupWindow` (readable with ``.read()``)."""
        return list(self._windows)

    def __getitem__(self, key: str) -> Any:
        if key == "windows":
            return self.windows
        return super().__getitem__(key)

    @property
    def documents(self) -> int:
        """Documents in all the windows listed."""
        return sum(int(w["documents"]) for w in self._windows)

    @property
    def bytes(self) -> int:
        """BSON bytes in all the windows listed."""
        return sum(int(w["bytes"]) for w in self._windows)

    @property
    def stored_bytes(self) -> int:
        """Bytes stored (after compression) for all the windows listed."""
        return sum(int(w["stored_bytes"]) for w in self._windows)

    def __repr__(self) -> str:
        return f"Listing({len(self._windows)} windows, {self.documents} documents)"


class Backup:
    """A backup's catalog, opened for reading (:func:`open_backup`)."""

    _function = "open_backup"  # what messages call the function that opened it, and its
    _keyword = "location"      # argument that gave the location

    def __init__(self, location: str | os.PathLike[str], *,
                 blob_connection_string: str | None = None,
                 azure_credential: str | None = None,
                 managed_identity_client_id: str | None = None,
                 https_ca_file: str | os.PathLike[str] | None = None,
                 blob_timeout_ms: int | None = None, retry_budget: int | None = None,
                 retry_base_ms: int | None = None, retry_max_delay_ms: int | None = None
                 ) -> None:
        self.location = _location_text(location, f"{self._function}({self._keyword})")
        self._connection = blob_connection_string
        self._credentials = {"azure_credential": azure_credential,
                             "managed_identity_client_id": managed_identity_client_id,
                             "https_ca_file": https_ca_file,
                             "blob_timeout_ms": blob_timeout_ms, "retry_budget": retry_budget,
                             "retry_base_ms": retry_base_ms,
                             "retry_max_delay_ms": retry_max_delay_ms}
        # opened once here so that a wrong location or credentials fail now, not at first read
        self._open()

    def _open(self) -> Any:
        opts, given = _catalog_options(self._connection, self._function, self._credentials)
        err = _e.ccopy_error_t()
        catalog = _e.cosmocopy_catalog_open(self.location, opts, err)
        if catalog is None:
            _raise(err, given, (f"{self._function}({self._keyword}=****)", self._keyword))
        return catalog

    def windows(self, db: str | None = None, collection: str | None = None) -> list[BackupWindow]:
        """The completed windows, in order (database, collection, start), optionally of one
        database or one collection (``db`` and ``collection``)."""
        for name, value in (("db", db), ("collection", collection)):
            if value is not None and not isinstance(value, str):
                raise errors._UnknownArgument(f"windows({name}=...): expected a str")
            if value is not None:
                _options.c_text(value, f"windows({name}={value!r})")
        catalog = self._open()
        err = _e.ccopy_error_t()
        manifests = _e.cosmocopy_catalog_list(catalog, db, collection, err)
        del catalog
        if manifests is None:
            named = [f"{k}={v!r}" for k, v in (("db", db), ("collection", collection))
                     if v is not None]
            call = "windows" if self._function == "open_backup" else self._function
            _raise(err, None, (f"{call}({', '.join(named)})", "db" if db is not None else
                               "collection") if named and err.code == errors.EINVAL else None)
        out = []
        for i in range(manifests.count):
            data = json.loads(_e.cosmocopy_manifest_json(manifests.item(i)))
            out.append(BackupWindow(data, self, manifests, i))
        return out

    def read(self, db: str | None = None, collection: str | None = None,
             decode: bool | Callable[[bytes], Any] = False) -> Iterator[Any]:
        """Every document of the windows :meth:`windows` lists, window after window (see
        :meth:`BackupWindow.read` for ``decode`` and the checks). Bad arguments are refused
        here, before the first document."""
        _decoder(decode)
        windows = self.windows(db, collection)
        return (doc for window in windows for doc in window.read(decode))

    def _read(self, manifests: Any, index: int, convert: Callable[[bytes], Any] | None
              ) -> Iterator[Any]:
        """The documents of manifest `index`: a thread reads (the GIL released while it waits
        for data) into a bounded queue; the caller's generator takes from it."""
        catalog = self._open()
        manifest = manifests.item(index)
        q: queue.Queue[Any] = queue.Queue(maxsize=_READ_AHEAD)
        stop = threading.Event()
        outcome: list[Any] = []

        def on_document(raw: bytes, _exc: BaseException | None) -> int:
            while not stop.is_set():
                try:
                    q.put(raw, timeout=0.1)
                    return 0
                except queue.Full:
                    continue
            return 1

        def reader() -> None:
            err = _e.ccopy_error_t()
            try:
                rc = _e.cosmocopy_catalog_read_window(catalog, manifest, on_document, err)
                outcome.append((rc, err))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                outcome.append((None, e))
            finally:
                while True:
                    try:
                        q.put(_END, timeout=0.1)
                        break
                    except queue.Full:
                        if stop.is_set():
                            break

        thread = threading.Thread(target=reader, name="cosmocopy-read", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    break
                yield convert(item) if convert else item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get(timeout=0.05)
                except queue.Empty:
                    pass
            thread.join()
        rc, err = outcome[0] if outcome else (None, None)
        if isinstance(err, BaseException):
            raise err
        if rc:
            _raise(err)

    def __repr__(self) -> str:
        return f"<cosmocopy.Backup {_e.cosmocopy_mask_secrets(self.location)}>"


def open_backup(location: str | os.PathLike[str], *,
                blob_connection_string: str | None = None,
                azure_credential: str | None = None,
                managed_identity_client_id: str | None = None,
                https_ca_file: str | os.PathLike[str] | None = None,
                blob_timeout_ms: int | None = None, retry_budget: int | None = None,
                retry_base_ms: int | None = None, retry_max_delay_ms: int | None = None,
                **kwargs: Any) -> Backup:
    """Open a backup for reading: ``dir:PATH`` (or a path object), ``azblob://CONTAINER[/PREFIX]``
    with ``blob_connection_string`` (or a Key Vault reference to it, ``kv://VAULT/SECRET``), or
    a container URL (with a SAS, or without one for Microsoft Entra ID). Nothing is created or
    locked. ``azure_credential``, ``managed_identity_client_id`` and ``https_ca_file`` are the
    options of the same names (where tokens come from, the CA bundle for HTTPS);
    ``blob_timeout_ms`` (how long one Blob Storage request may take), ``retry_budget``,
    ``retry_base_ms`` and ``retry_max_delay_ms`` (how each request is retried) are those of
    ``cosmocopy list``, with the same defaults.

    Raises :class:`~cosmocopy.UsageError` for a location that is not one of those,
    :class:`~cosmocopy.NotFoundError` when it does not exist (that exception is a ``UsageError``
    too: bad input, as ``cosmocopy list`` exits 2)."""
    _options.no_other_arguments("open_backup", kwargs, open_backup)
    return Backup(location, blob_connection_string=blob_connection_string,
                  azure_credential=azure_credential,
                  managed_identity_client_id=managed_identity_client_id,
                  https_ca_file=https_ca_file, blob_timeout_ms=blob_timeout_ms,
                  retry_budget=retry_budget, retry_base_ms=retry_base_ms,
                  retry_max_delay_ms=retry_max_delay_ms)


def list_windows(from_: str | os.PathLike[str] | None = None, *, db: str | None = None,
                 collection: str | None = None, blob_connection_string: str | None = None,
                 azure_credential: str | None = None,
                 managed_identity_client_id: str | None = None,
                 https_ca_file: str | os.PathLike[str] | None = None,
                 blob_timeout_ms: int | None = None, retry_budget: int | None = None,
                 retry_base_ms: int | None = None, retry_max_delay_ms: int | None = None,
                 **kwargs: Any) -> Listing:
    """The completed windows of a backup, like ``cosmocopy list --json``.

    ``from_`` (or ``**{"from": ...}``) is the backup: ``dir:PATH``, ``azblob://CONTAINER[/PREFIX]``
    (with ``blob_connection_string``, or a Key Vault reference to it) or a container URL.
    ``db`` and ``collection`` narrow the listing; ``azure_credential``,
    ``managed_identity_client_id``, ``https_ca_file``, ``blob_timeout_ms`` and the retry
    options are as for :func:`open_backup`. Each window can be read back with ``.read()``.
    A backup that holds no window (of ``db``, ``collection``) raises
    :class:`~cosmocopy.UsageError`, as ``cosmocopy list`` exits 2; :func:`open_backup` reads an
    empty one as empty.

    Example::

        listing = cosmocopy.list_windows("dir:/backups/shop", db="shop")
        print(len(listing.windows), "windows,", listing.documents, "documents")
    """
    from_ = _options.from_argument("list_windows", from_, kwargs, list_windows)
    if from_ is None:
        raise errors.UsageError("list_windows(): from_= is required (dir:PATH, "
                                "azblob://CONTAINER[/PREFIX] or a SAS URL)")
    backup = _ListedBackup(from_, blob_connection_string=blob_connection_string,
                           azure_credential=azure_credential,
                           managed_identity_client_id=managed_identity_client_id,
                           https_ca_file=https_ca_file, blob_timeout_ms=blob_timeout_ms,
                           retry_budget=retry_budget, retry_base_ms=retry_base_ms,
                           retry_max_delay_ms=retry_max_delay_ms)
    windows = backup.windows(db, collection)
    if not windows:
        # as `cosmocopy list` (exit 2): the wrong folder, container or name is bad input
        what = (" of " if db or collection else "") + (f"database {db}" if db else "") + \
            (", " if db and collection else "") + (f"collection {collection}" if collection else "")
        shown = "list_windows(from_=****)"
        raise errors.named(errors.UsageError(
            f"{shown}: {_e.cosmocopy_mask_secrets(str(backup.location))} holds no backup{what}"),
            {shown: "from_"})
    return Listing(windows)


class _ListedBackup(Backup):
    """The backup :func:`list_windows` opens (its messages name list_windows)."""

    _function = "list_windows"
    _keyword = "from_"

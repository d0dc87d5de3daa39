"""An independent reader of cosmocopy backup folders, for tests.

It shares no code with the engine: it walks ``PATH/<db>/<collection>/``
(a name holding '/' is escaped there, as the README says: ``folder_name``),
reads every manifest, checks the data file the manifest names (size and
SHA-256 of the stored bytes, decompression, document count and uncompressed
byte count, first and last ``_id``, every window document inside its window,
no ``_id`` twice in a collection) and returns the documents as raw BSON
bytes, so a test can compare them byte for byte with what pymongo reads
from the source:

    backup = backupcheck.read_backup(tmp_path / "bk")
    backupcheck.assert_same_docs(backup.docs(db, "orders"),
                                 backupcheck.source_docs(mongo[db]["orders"]))

The checks read through a small store interface (``FolderStore`` here;
``blobcheck.BlobStore`` reads the same layout from a blob container), so a
folder backup and a blob backup are held to exactly the same rules.

Keys of the returned dicts are the BSON encoding of ``{"_id": value}``, so an
int32 ``5`` and an int64 ``5`` stay distinct; values are the raw document
bytes. Anything wrong raises ``AssertionError`` with a message that names
the file.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Iterable, Protocol

import bson
from bson import ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.json_util import CANONICAL_JSON_OPTIONS
from bson.json_util import loads as _ejson_loads
from bson.raw_bson import RawBSONDocument

# Dates outside Python's datetime range decode as DatetimeMS instead of failing.
RAW = CodecOptions(document_class=RawBSONDocument,
                   datetime_conversion=DatetimeConversion.DATETIME_AUTO)
PLAIN = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
EJSON = CANONICAL_JSON_OPTIONS.with_options(datetime_conversion=DatetimeConversion.DATETIME_AUTO)


_ESCAPES = {"%": "%25", "/": "%2F", "\\": "%5C", ".": "%2E"}
_ESCAPED = re.compile("%25|%2F|%5C|%2E")


def folder_name(name: str) -> str:
    """The folder (or blob-name component) of a database or collection name:
    itself, unless it holds '/' or '\\', ends with '.', or holds one of the
    escapes, when '%', '/' and '\\' are written "%25", "%2F" and "%5C", and a
    last '.' "%2E"."""
    if not ("/" in name or "\\" in name or name.endswith(".") or _ESCAPED.search(name)):
        return name
    body = "".join(_ESCAPES.get(ch, ch) if ch != "." else ch for ch in name)
    return body[:-1] + "%2E" if name.endswith(".") else body


def name_of_folder(folder: str) -> str:
    """The name a folder stands for (``folder_name`` undone)."""
    back = {v: k for k, v in _ESCAPES.items()}
    return _ESCAPED.sub(lambda m: back[m.group(0)], folder)


def ejson_loads(text: str):
    return _ejson_loads(text, json_options=EJSON)
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_KEYS = {
    "format_version", "kind", "database", "collection", "window", "documents", "bytes",
    "stored_bytes", "data", "sha256", "first_id", "last_id", "format", "compression",
    "engine_version", "completed_at",
}
DATA_EXT = {"bson": ".bson", "jsonl": ".jsonl"}
COMP_EXT = {"none": "", "gzip": ".gz", "zstd": ".zst"}


# ---------------------------------------------------------------- keys


def id_key(_id) -> bytes:
    """The identity of an ``_id`` value: its BSON encoding (type + value)."""
    return bson.encode({"_id": _id}, codec_options=RAW)


def show_key(key: bytes) -> str:
    """A readable form of an ``id_key`` for assertion messages."""
    value = bson.decode(key, PLAIN)["_id"]
    return f"{type(value).__name__}({value!r})"


def doc_key(doc: RawBSONDocument) -> bytes:
    return id_key(doc["_id"])


def rfc3339(epoch: int) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(epoch: int) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------- source side


def source_docs(coll, predicate=None) -> dict[bytes, bytes]:
    """Every document of a pymongo collection as {id_key: raw BSON}, read
    with a plain find() (no filter on the server), optionally filtered here
    by ``predicate(raw_doc)``."""
    raw_coll = coll.with_options(codec_options=RAW)
    out: dict[bytes, bytes] = {}
    for doc in raw_coll.find({}):
        if predicate is not None and not predicate(doc):
            continue
        key = doc_key(doc)
        assert key not in out, f"source {coll.full_name}: _id {show_key(key)} twice"
        out[key] = bytes(doc.raw)
    return out


def oid_time_in(lo: int, hi: int):
    """Predicate for source_docs: ObjectId _id whose time is in [lo, hi)."""
    def pred(doc) -> bool:
        _id = doc["_id"]
        return isinstance(_id, ObjectId) and lo <= oid_seconds(_id) < hi
    return pred


def is_objectid(doc) -> bool:
    return isinstance(doc["_id"], ObjectId)


def not_objectid(doc) -> bool:
    return not isinstance(doc["_id"], ObjectId)


def oid_seconds(oid: ObjectId) -> int:
    return int.from_bytes(oid.binary[:4], "big")


# ---------------------------------------------------------------- backup side


@dataclass
class Window:
    """One manifest and what its data file holds. For a blob backup,
    ``folder``, ``manifest_path`` and ``data_path`` are ``PurePosixPath``
    names (``<container>/<prefix>/<db>/<coll>/...``): use ``read_stored()``
    rather than ``data_path.read_bytes()`` to read the data there."""

    folder: PurePath
    manifest_path: PurePath
    manifest: dict
    docs: list[tuple[bytes, bytes]]  # (id_key, raw) in file order
    store: "Store | None" = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def data_path(self) -> PurePath:
        return self.folder / self.manifest["data"]

    def read_stored(self) -> bytes:
        """The data object's stored (compressed) bytes, read again."""
        if self.store is None:
            return Path(self.data_path).read_bytes()
        data = self.store.read(self.manifest["database"], self.manifest["collection"],
                               self.manifest["data"])
        assert data is not None, f"{self.data_path}: gone"
        return data

    @property
    def start_epoch(self) -> int | None:
        w = self.manifest["window"]
        return None if w is None else w["start_epoch"]

    @property
    def end_epoch(self) -> int | None:
        w = self.manifest["window"]
        return None if w is None else w["end_epoch"]


@dataclass
class Backup:
    root: PurePath
    windows: list[Window] = field(default_factory=list)
    metadata: dict[tuple[str, str], dict] = field(default_factory=dict)

    def collections(self) -> set[tuple[str, str]]:
        return {(w.manifest["database"], w.manifest["collection"]) for w in self.windows}

    def windows_of(self, db: str, coll: str, kind: str | None = None) -> list[Window]:
        ws = [w for w in self.windows
              if w.manifest["database"] == db and w.manifest["collection"] == coll
              and (kind is None or w.kind == kind)]
        return sorted(ws, key=lambda w: (w.kind != "window", w.start_epoch or 0))

    def docs(self, db: str, coll: str, kind: str | None = None) -> dict[bytes, bytes]:
        out: dict[bytes, bytes] = {}
        for w in self.windows_of(db, coll, kind):
            for key, raw in w.docs:
                out[key] = raw
        return out


class Store(Protocol):
    """Where a backup's objects are: ``<root>/<db>/<coll>/<name>``."""

    root: PurePath

    def collections(self) -> list[tuple[str, str]]:
        """(db, coll) pairs, sorted."""

    def names(self, db: str, coll: str) -> list[str]:
        """Names of the objects directly in one collection, sorted."""

    def read(self, db: str, coll: str, name: str) -> bytes | None:
        """An object's bytes, or None if it does not exist."""

    def where(self, db: str, coll: str, name: str = "") -> PurePath:
        """The object's path or blob name (the collection's without ``name``)."""


class FolderStore:
    """A sink folder: ``PATH/<db>/<coll>/<file>``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def collections(self) -> list[tuple[str, str]]:
        if not self.root.is_dir():
            return []
        return sorted((name_of_folder(dbdir.name), name_of_folder(colldir.name))
                      for dbdir in self.root.iterdir() if dbdir.is_dir()
                      for colldir in dbdir.iterdir() if colldir.is_dir())

    def names(self, db: str, coll: str) -> list[str]:
        return sorted(p.name for p in self.where(db, coll).iterdir() if p.is_file())

    def read(self, db: str, coll: str, name: str) -> bytes | None:
        path = self.where(db, coll, name)
        return path.read_bytes() if path.is_file() else None

    def where(self, db: str, coll: str, name: str = "") -> Path:
        path = self.root / folder_name(db) / folder_name(coll)
        return path / name if name else path


def _decompress(stored: bytes, compression: str, where: PurePath) -> bytes:
    if compression == "none":
        return stored
    if compression == "gzip":
        try:
            return gzip.decompress(stored)  # handles concatenated members
        except (OSError, EOFError) as e:
            raise AssertionError(f"{where}: not valid gzip: {e}") from None
    if compression == "zstd":
        import zstandard

        try:
            with zstandard.ZstdDecompressor().stream_reader(
                    io.BytesIO(stored), read_across_frames=True) as reader:
                return reader.read()
        except zstandard.ZstdError as e:
            raise AssertionError(f"{where}: not valid zstd: {e}") from None
    raise AssertionError(f"{where}: unknown compression {compression!r}")


def _decode_bson(data: bytes, where: PurePath) -> list[RawBSONDocument]:
    docs = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5:
            raise AssertionError(f"{where}: {len(data) - pos} stray bytes at offset {pos}")
        size = int.from_bytes(data[pos:pos + 4], "little")
        if size < 5 or pos + size > len(data):
            raise AssertionError(f"{where}: bad document length {size} at offset {pos}")
        chunk = data[pos:pos + size]
        try:
            # decode_all validates the whole document, not just its length.
            (doc,) = bson.decode_all(chunk, RAW)
            bson.decode(chunk, PLAIN)  # and every element inside it
        except Exception as e:  # bson.errors.InvalidBSON and friends
            raise AssertionError(f"{where}: invalid BSON at offset {pos}: {e}") from None
        docs.append(doc)
        pos += size
    return docs


def _decode_jsonl(data: bytes, where: PurePath) -> list[RawBSONDocument]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError(f"{where}: not UTF-8: {e}") from None
    if text and not text.endswith("\n"):
        raise AssertionError(f"{where}: last line is not terminated by a newline")
    docs = []
    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        try:
            value = ejson_loads(line)
        except Exception as e:
            raise AssertionError(f"{where}:{n}: not Extended JSON: {e}: {line[:200]}") from None
        if not isinstance(value, dict):
            raise AssertionError(f"{where}:{n}: not a document: {line[:200]}")
        docs.append(RawBSONDocument(bson.encode(value, codec_options=PLAIN), RAW))
    return docs


def _check_window(store: Store, db: str, coll: str, manifest_name: str) -> Window:
    folder = store.where(db, coll)
    mpath = where = store.where(db, coll, manifest_name)
    try:
        m = json.loads(store.read(db, coll, manifest_name).decode("utf-8"))
    except (OSError, ValueError, AttributeError) as e:
        raise AssertionError(f"{where}: unreadable manifest: {e}") from None
    missing = MANIFEST_KEYS - set(m)
    assert not missing, f"{where}: manifest lacks {sorted(missing)}"
    assert m["database"] == db and m["collection"] == coll, \
        f"{where}: manifest names {m['database']}.{m['collection']}, folder is {db}.{coll}"
    fmt, comp = m["format"], m["compression"]
    assert fmt in DATA_EXT, f"{where}: unknown format {fmt!r}"
    assert comp in COMP_EXT, f"{where}: unknown compression {comp!r}"

    stem = mpath.name[: -len(MANIFEST_SUFFIX)]
    assert m["data"] == stem + DATA_EXT[fmt] + COMP_EXT[comp], \
        f"{where}: data file {m['data']!r} does not match the manifest name and format"
    if m["kind"] == "window":
        w = m["window"]
        assert isinstance(w, dict), f"{where}: window manifest without a window"
        start, end = w["start_epoch"], w["end_epoch"]
        assert 0 <= start < end < 2**32, f"{where}: bad window [{start}, {end})"
        assert w["start"] == rfc3339(start) and w["end"] == rfc3339(end), \
            f"{where}: window times {w['start']}..{w['end']} disagree with epochs {start}..{end}"
        assert stem == f"{compact(start)}_{compact(end)}", \
            f"{where}: file name does not match window [{w['start']}, {w['end']})"
    elif m["kind"] == "non-objectid":
        assert m["window"] is None, f"{where}: non-objectid manifest with a window"
        assert stem == "non-objectid", f"{where}: non-objectid manifest under another name"
    else:
        raise AssertionError(f"{where}: unknown kind {m['kind']!r}")

    dpath = store.where(db, coll, m["data"])
    stored = store.read(db, coll, m["data"])
    assert stored is not None, f"{where}: data file {dpath} is missing"
    assert len(stored) == m["stored_bytes"], \
        f"{dpath}: {len(stored)} bytes stored, manifest says stored_bytes={m['stored_bytes']}"
    digest = hashlib.sha256(stored).hexdigest()
    assert digest == m["sha256"], f"{dpath}: sha256 {digest}, manifest says {m['sha256']}"
    data = _decompress(stored, comp, dpath)
    assert len(data) == m["bytes"], \
        f"{dpath}: {len(data)} bytes uncompressed, manifest says bytes={m['bytes']}"
    raw_docs = _decode_bson(data, dpath) if fmt == "bson" else _decode_jsonl(data, dpath)
    assert len(raw_docs) == m["documents"], \
        f"{dpath}: {len(raw_docs)} documents, manifest says {m['documents']}"

    docs: list[tuple[bytes, bytes]] = []
    for doc in raw_docs:
        assert "_id" in doc, f"{dpath}: a document without _id"
        _id = doc["_id"]
        if m["kind"] == "window":
            assert isinstance(_id, ObjectId), f"{dpath}: non-ObjectId _id {_id!r} in a window"
            t = oid_seconds(_id)
            assert start <= t < end, \
                f"{dpath}: _id {_id} has time {rfc3339(t)}, outside [{w['start']}, {w['end']})"
        else:
            assert not isinstance(_id, ObjectId), \
                f"{dpath}: ObjectId _id {_id} in the non-ObjectId pass"
        docs.append((doc_key(doc), bytes(doc.raw)))

    if docs:
        for name, key in (("first_id", docs[0][0]), ("last_id", docs[-1][0])):
            try:
                got = id_key(ejson_loads(json.dumps(m[name])))
            except Exception as e:
                raise AssertionError(f"{where}: {name} {m[name]!r} is not Extended JSON: {e}") \
                    from None
            assert got == key, f"{where}: {name} is {show_key(got)}, the file has {show_key(key)}"
    else:
        assert m["first_id"] is None and m["last_id"] is None, \
            f"{where}: empty window with first_id/last_id {m['first_id']!r}/{m['last_id']!r}"
    return Window(folder, mpath, m, docs, store)


def read_store(store: Store) -> Backup:
    """Read and check every manifest in ``store`` (see ``read_backup``)."""
    backup = Backup(store.root)
    for db, coll in store.collections():
        meta = store.read(db, coll, "metadata.json")
        if meta is not None:
            try:
                backup.metadata[(db, coll)] = ejson_loads(meta.decode("utf-8"))
            except Exception as e:
                raise AssertionError(f"{store.where(db, coll, 'metadata.json')}: "
                                     f"not Extended JSON: {e}") from None
        seen: dict[bytes, str] = {}
        windows: list[Window] = []
        for name in store.names(db, coll):
            if not name.endswith(MANIFEST_SUFFIX) or name.startswith(".tmp."):
                continue
            win = _check_window(store, db, coll, name)
            for key, _ in win.docs:
                assert key not in seen, \
                    f"{db}.{coll}: _id {show_key(key)} in both {seen[key]} and {name}"
                seen[key] = name
            windows.append(win)
        # Windows of one collection never overlap.
        spans = sorted((w.start_epoch, w.end_epoch, w.manifest_path.name)
                       for w in windows if w.kind == "window")
        for (s1, e1, n1), (s2, e2, n2) in zip(spans, spans[1:]):
            assert e1 <= s2, f"{db}.{coll}: windows {n1} and {n2} overlap"
        backup.windows.extend(windows)
    return backup


def read_backup(root: str | os.PathLike) -> Backup:
    """Read and check every manifest under ``root`` (a dir: sink folder)."""
    return read_store(FolderStore(root))


# ---------------------------------------------------------------- comparisons


def assert_same_docs(actual: dict[bytes, bytes], expected: dict[bytes, bytes],
                     label: str = "backup") -> None:
    """The exact documents, no more, no fewer, byte for byte."""
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    differ = [k for k in expected if k in actual and actual[k] != expected[k]]
    if missing or extra or differ:
        def few(keys):
            return ", ".join(show_key(k) for k in keys[:5]) + (" ..." if len(keys) > 5 else "")
        lines = [f"{label}: {len(actual)} documents, source has {len(expected)}"]
        if missing:
            lines.append(f"  {len(missing)} missing: {few(missing)}")
        if extra:
            lines.append(f"  {len(extra)} not in the source: {few(extra)}")
        if differ:
            k = differ[0]
            lines.append(f"  {len(differ)} differ: {few(differ)}; first: backup "
                         f"{bson.decode(actual[k], PLAIN)!r} vs source "
                         f"{bson.decode(expected[k], PLAIN)!r}")
        raise AssertionError("\n".join(lines))


def assert_backup_matches(root, client_db, collections: Iterable[str] | None = None,
                          predicate=None) -> Backup:
    """Read ``root`` and check that, for each collection (default: every
    collection of ``client_db``), the backup holds exactly the source's
    documents (optionally only those passing ``predicate``), and no
    collection that was not asked for."""
    return assert_matches(read_backup(root), client_db, collections, predicate)


def assert_matches(backup: Backup, client_db, collections: Iterable[str] | None = None,
                   predicate=None) -> Backup:
    """``assert_backup_matches`` for a Backup already read (from any store)."""
    db = client_db.name
    names = sorted(collections) if collections is not None else \
        sorted(client_db.list_collection_names())
    got = sorted(c for d, c in backup.collections() if d == db)
    assert got == names, f"backup holds collections {got}, expected {names}"
    for name in names:
        assert_same_docs(backup.docs(db, name), source_docs(client_db[name], predicate),
                         f"{db}.{name}")
    return backup


def assert_windows_match_source(backup: Backup, coll, db: str | None = None) -> int:
    """Every window present in ``backup`` for the pymongo collection ``coll``
    holds exactly the source documents of its window (for a backup that
    stopped part-way: what is marked complete is complete). Returns the
    number of windows checked."""
    db = db or coll.database.name
    source = {k: (bson.decode(k, PLAIN)["_id"], v) for k, v in source_docs(coll).items()}
    n = 0
    for w in backup.windows_of(db, coll.name):
        if w.kind == "window":
            lo, hi = w.start_epoch, w.end_epoch
            expected = {k: v for k, (_id, v) in source.items()
                        if isinstance(_id, ObjectId) and lo <= oid_seconds(_id) < hi}
        else:
            expected = {k: v for k, (_id, v) in source.items() if not isinstance(_id, ObjectId)}
        assert_same_docs(dict(w.docs), expected, str(w.manifest_path))
        n += 1
    return n


def leftover_temps(root) -> list[Path]:
    """Temporary files (``.tmp.*``) anywhere under ``root``."""
    return sorted(p for p in Path(root).rglob(".tmp.*"))


def snapshot(root) -> dict[str, tuple[int, str]]:
    """{relative path: (mtime_ns, sha256)} of every regular file under root
    except the lock file."""
    root = Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != ".cosmocopy.lock":
            out[str(p.relative_to(root))] = (p.stat().st_mtime_ns,
                                             hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def manifests(root) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*" + MANIFEST_SUFFIX)
                  if not p.name.startswith(".tmp."))

"""Deterministic test data for cosmocopy tests, the demo and benchmarks.

Backups are windowed by ObjectId generation time, so the generators here
control exactly which second each ``_id`` carries:

    ids = insert_spread(coll, start_ts, end_ts, 5000, doc_size=1024, seed=1)

Documents stay within what FerretDB accepts: no nested arrays, no NaN or
Infinity, no keys containing '.' or starting with '$', no NUL in strings.
``rich=True`` (the benchmarks) adds the other BSON types FerretDB 1.24 stores: binary of
subtypes 0 and 4 (UUID), regular expressions, timestamps, ObjectId references, int32, int64,
doubles, booleans, nulls, dates, deeper nesting and arrays of documents sized with the
document; never Decimal128, MinKey/MaxKey, JavaScript code or infinities, which it refuses.
"""

from __future__ import annotations

import datetime as _dt
import random
import string
import time
import uuid
from typing import Iterator

import bson
from bson import Binary, Int64, ObjectId, Regex, Timestamp
from bson.binary import UuidRepresentation

BATCH = 1000

_ALNUM = string.ascii_letters + string.digits
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
          "india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa",
          "zürich", "são paulo", "東京", "ünïcødé")
_CITIES = ("Amsterdam", "Berlin", "Cairo", "Denver", "Espoo", "Florence", "Gdańsk", "Hanoi")
_TIERS = ("free", "basic", "pro", "enterprise")


def to_ts(t) -> int:
    """Seconds since the epoch from an int/float or a datetime (naive = UTC)."""
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return int(t.timestamp())
    return int(t)


def now_ts() -> int:
    return int(time.time())


def make_oid(ts_seconds, n: int) -> ObjectId:
    """ObjectId whose first 4 bytes are ``ts_seconds`` and whose remaining 8
    bytes are ``n`` (big-endian), so ids with distinct ``n`` never collide."""
    ts = to_ts(ts_seconds)
    if not 0 <= ts < 2**32:
        raise ValueError(f"timestamp {ts} does not fit in an ObjectId")
    if not 0 <= n < 2**64:
        raise ValueError(f"n={n} does not fit in 8 bytes")
    return ObjectId(ts.to_bytes(4, "big") + n.to_bytes(8, "big"))


def _word(rng: random.Random) -> str:
    return rng.choice(_WORDS)


def _token(rng: random.Random, k: int) -> str:
    return "".join(rng.choices(_ALNUM, k=k))


def _utc(ts: float) -> _dt.datetime:
    # BSON datetimes have millisecond precision; round so round-trips compare equal.
    ms = int(ts * 1000)
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


def _rich_fields(rng: random.Random, ts: float, doc_size: int) -> dict:
    """The extra fields of ``make_doc(rich=True)``: every BSON type FerretDB 1.24 accepts, and
    an array of nested events that grows with ``doc_size`` (about one per 400 bytes), so a
    16 KB document is mostly structure, not one padding string."""
    events = [
        {
            "at": _utc(ts - rng.randrange(0, 86400)),
            "kind": rng.choice(("view", "click", "buy", "refund")),
            "by": ObjectId(rng.randbytes(12)),
            "score": rng.uniform(0.0, 100.0),
            "n": rng.randint(0, 1000),
            "flags": {"seen": rng.random() < 0.5, "ack": rng.random() < 0.5, "src": None},
            "geo": {"lat": rng.uniform(-90, 90), "lon": rng.uniform(-180, 180)},
            "text": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))),
        }
        for _ in range(max(1, doc_size // 400))
    ]
    return {
        "blob": Binary(rng.randbytes(rng.randint(8, 64)), 0),
        "uuid": Binary.from_uuid(uuid.UUID(int=rng.getrandbits(128), version=4),
                                 UuidRepresentation.STANDARD),
        "pattern": Regex(f"^{_token(rng, 4)}.*", rng.choice(("", "i", "im"))),
        "stamp": Timestamp(int(ts), rng.randint(1, 1000)),
        "ref": ObjectId(rng.randbytes(12)),
        "small": rng.randint(-1000, 1000),
        "scores": [rng.uniform(0, 1) for _ in range(rng.randint(0, 8))],
        "meta": {"v": Int64(rng.getrandbits(40)), "deep": {"deeper": {"deepest": _word(rng),
                                                                       "empty": {}}},
                 "list": [], "when": _utc(ts)},
        "events": events,
    }


def make_doc(rng: random.Random, oid: ObjectId, seq: int, doc_size: int = 1024,
             rich: bool = False) -> dict:
    """One document of roughly ``doc_size`` BSON bytes (never less than the
    ~400 bytes of its fixed fields; with ``rich``, the ~1,000 bytes of its fixed fields and
    one nested event per 400 bytes of ``doc_size``)."""
    ts = oid.generation_time.timestamp()
    items = [
        {
            "sku": f"SKU-{rng.randrange(100000):05d}",
            "qty": rng.randint(1, 20),
            "price": round(rng.uniform(0.5, 500.0), 2),
            "gift": rng.random() < 0.1,
        }
        for _ in range(rng.randint(1, 5))
    ]
    doc = {
        "_id": oid,
        "seq": seq,
        "customer": {
            "name": f"{_word(rng)} {_token(rng, 6)}",
            "tier": rng.choice(_TIERS),
            "since": _utc(ts - rng.randrange(0, 3 * 365 * 86400)),
            "address": {"city": rng.choice(_CITIES), "zip": f"{rng.randrange(100000):05d}"},
        },
        "items": items,
        "tags": rng.sample(_WORDS, k=rng.randint(0, 4)),
        "total": round(sum(i["price"] * i["qty"] for i in items), 2),
        "ratio": rng.uniform(-1.0, 1.0),
        "count": rng.randint(-(2**31), 2**31 - 1),
        "big": Int64(rng.getrandbits(62) - 2**61),
        "active": rng.random() < 0.5,
        "created": _utc(ts + rng.random()),
        "note": None,
        "pad": "",
    }
    if rich:
        doc.update(_rich_fields(rng, ts, doc_size))
        doc["pad"] = doc.pop("pad")  # padding last, as without ``rich``
    short = doc_size - len(bson.encode(doc))
    if short > 0:
        doc["pad"] = _token(rng, short)  # ASCII: one byte per character
    return doc


def iter_spread(start_ts, end_ts, count: int, doc_size: int = 1024,
                seed: int | None = 0, rich: bool = False) -> Iterator[dict]:
    """Yield ``count`` documents in ``_id`` order whose ObjectId times are
    spread over [start_ts, end_ts): document i lands in the i-th of ``count``
    equal slices of the range at a random offset, so the spread is even, the
    output is sorted and nothing has to be held in memory.

    Deterministic for a given seed. The low 8 id bytes are a 32-bit salt drawn
    from the seed followed by the 32-bit index, so two calls with different
    seeds (or seed=None, which is random) never produce the same ids. ``rich``: see
    ``make_doc``."""
    start, end = to_ts(start_ts), to_ts(end_ts)
    if end <= start:
        raise ValueError(f"empty time range [{start}, {end})")
    if count < 0 or count >= 2**32:
        raise ValueError(f"bad count {count}")
    rng = random.Random(seed)
    salt = rng.getrandbits(32)
    span = end - start
    for i in range(count):
        ts = start + int((i + rng.random()) * span / count)
        ts = min(ts, end - 1)
        yield make_doc(rng, make_oid(ts, (salt << 32) | i), i, doc_size, rich)


def insert_docs(coll, docs, keep_ids: bool = True, batch: int = BATCH):
    """insert_many(ordered=True) in batches; returns the list of _ids, or the
    number inserted when ``keep_ids`` is false."""
    ids: list = []
    n = 0
    buf: list[dict] = []
    for d in docs:
        buf.append(d)
        if len(buf) >= batch:
            coll.insert_many(buf, ordered=True)
            n += len(buf)
            if keep_ids:
                ids.extend(x["_id"] for x in buf)
            buf = []
    if buf:
        coll.insert_many(buf, ordered=True)
        n += len(buf)
        if keep_ids:
            ids.extend(x["_id"] for x in buf)
    return ids if keep_ids else n


def insert_spread(coll, start_ts, end_ts, count: int, doc_size: int = 1024,
                  seed: int | None = 0, keep_ids: bool = True):
    """Insert ``count`` documents with ObjectId times spread over
    [start_ts, end_ts) (ints or datetimes). Returns the list of inserted _ids
    in insertion (= _id) order, or just the count when ``keep_ids=False``.

    Use different seeds for repeated calls on the same collection: the same
    seed yields the same ids again (and a duplicate-key error)."""
    return insert_docs(coll, iter_spread(start_ts, end_ts, count, doc_size, seed),
                       keep_ids=keep_ids)


def non_oid_ids(n: int, seed: int = 0) -> list:
    """``n`` _ids cycling through string, int32, int64, UUID (binary subtype 4)
    and generic binary (subtype 0)."""
    rng = random.Random(seed)
    ids: list = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            ids.append(f"key-{i:08d}")
        elif kind == 1:
            ids.append(i)
        elif kind == 2:
            ids.append(Int64(2**40 + i))
        elif kind == 3:
            u = uuid.UUID(int=rng.getrandbits(128), version=4)
            ids.append(Binary.from_uuid(u, UuidRepresentation.STANDARD))
        else:
            ids.append(Binary(i.to_bytes(8, "big") + rng.randbytes(8), 0))
    return ids


def insert_non_oid(coll, n: int, seed: int = 0, doc_size: int = 256) -> list:
    """Insert ``n`` small documents whose _ids are not ObjectIds (see
    ``non_oid_ids``). Returns the _ids."""
    rng = random.Random(seed + 1)
    docs = []
    for i, _id in enumerate(non_oid_ids(n, seed)):
        doc = {"_id": _id, "seq": i, "kind": type(_id).__name__,
               "name": f"{_word(rng)} {_token(rng, 8)}", "value": rng.uniform(0, 1000),
               "pad": ""}
        short = doc_size - len(bson.encode(doc))
        if short > 0:
            doc["pad"] = _token(rng, short)
        docs.append(doc)
    insert_docs(coll, docs)
    return [d["_id"] for d in docs]

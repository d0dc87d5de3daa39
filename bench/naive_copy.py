#!/usr/bin/env python3
"""A naive throttled copy, the baseline of the ``throttle`` benchmark (bench/throttle.py).

    python bench/naive_copy.py --uri URI --db DB --collection C \\
        --from EPOCH --to EPOCH --step SECONDS --out DIR [--threads 4] [--batch-size 100] \\
        [--pause-ms 1000]

What a client written without thought for request units does: ``--threads`` threads, each
copying its share of the ObjectId windows [from, to) cut every ``step`` seconds (window i goes
to thread i mod threads), with plain ``find`` (sorted by ``_id``, ``batchSize``) and ``getMore``
commands. A 16500 (request rate too large) reply is answered by sleeping ``--pause-ms`` and
sending the same request again; the RetryAfterMs in the error is ignored (only recorded).
Any other error ends the program with status 1.

Each thread has its own client with one connection (maxPoolSize=1, retryReads=False) and one
session, so a retried getMore goes to the connection and session its cursor belongs to, and
the retry is the very same request: nothing is read twice. Each window's documents are
written as they arrive, as raw BSON, to ``DIR/<from>_<to>.bson`` (the same work as a backup
without compression or manifests).

Prints one JSON object: documents, bytes, requests (find + getMore, throttled ones included),
throttled, retry_after_ms {count, min, median, max} of the ignored hints, first_request and
last_reply (epoch seconds: the first request sent, the last reply received) and
copy_seconds (their difference), and per-window documents.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import pymongo
from bson import Int64, ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import OperationFailure

RAW = CodecOptions(document_class=RawBSONDocument)
THROTTLED = 16500
RETRY_AFTER = re.compile(r"RetryAfterMs=(\d+)")


class Stats:
    """Counters shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.throttled = 0
        self.retry_after_ms: list[int] = []
        self.first_request: float | None = None
        self.last_reply: float | None = None
        self.windows: dict[str, int] = {}
        self.bytes = 0

    def sent(self, t: float) -> None:
        with self.lock:
            self.requests += 1
            if self.first_request is None or t < self.first_request:
                self.first_request = t

    def answered(self, t: float) -> None:
        with self.lock:
            if self.last_reply is None or t > self.last_reply:
                self.last_reply = t

    def was_throttled(self, err: OperationFailure) -> None:
        hint = RETRY_AFTER.search(str(err))
        with self.lock:
            self.throttled += 1
            if hint:
                self.retry_after_ms.append(int(hint.group(1)))


def oid_at(epoch: int) -> ObjectId:
    return ObjectId.from_datetime(dt.datetime.fromtimestamp(epoch, dt.timezone.utc))


def request(db, session, cmd: dict, pause: float, stats: Stats) -> RawBSONDocument:
    """Send ``cmd``; on 16500 sleep ``pause`` seconds and send it again, as often as needed."""
    while True:
        stats.sent(time.time())
        try:
            reply = db.command(cmd, codec_options=RAW, session=session)
        except OperationFailure as e:
            stats.answered(time.time())
            if e.code != THROTTLED:
                raise
            stats.was_throttled(e)
            time.sleep(pause)
            continue
        stats.answered(time.time())
        return reply


def copy_window(db, session, coll: str, lo: int, hi: int, args, out: Path, stats: Stats) -> None:
    pause = args.pause_ms / 1000
    name = f"{lo}_{hi}"
    docs = nbytes = 0
    with open(out / f"{name}.bson", "wb") as f:
        reply = request(db, session, {
            "find": coll, "filter": {"_id": {"$gte": oid_at(lo), "$lt": oid_at(hi)}},
            "sort": {"_id": 1}, "batchSize": args.batch_size}, pause, stats)
        cursor, key = reply["cursor"], "firstBatch"
        while True:
            for doc in cursor[key]:
                f.write(doc.raw)
                docs += 1
                nbytes += len(doc.raw)
            if not cursor["id"]:
                break
            reply = request(db, session, {"getMore": Int64(cursor["id"]), "collection": coll,
                                          "batchSize": args.batch_size}, pause, stats)
            cursor, key = reply["cursor"], "nextBatch"
    with stats.lock:
        stats.windows[name] = docs
        stats.bytes += nbytes


def worker(args, windows: list[tuple[int, int]], out: Path, stats: Stats, errors: list) -> None:
    try:
        with pymongo.MongoClient(args.uri, maxPoolSize=1, retryReads=False,
                                 retryWrites=False) as client, client.start_session() as session:
            db = client[args.db]
            for lo, hi in windows:
                copy_window(db, session, args.collection, lo, hi, args, out, stats)
    except Exception as e:  # reported by main; the other threads finish their windows
        errors.append(f"{type(e).__name__}: {e}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--collection", required=True)
    p.add_argument("--from", dest="start", type=int, required=True, help="epoch seconds")
    p.add_argument("--to", dest="end", type=int, required=True, help="epoch seconds")
    p.add_argument("--step", type=int, required=True, help="window length in seconds")
    p.add_argument("--out", type=Path, required=True, help="folder for the .bson files")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--pause-ms", type=int, default=1000, help="sleep after a 16500 reply")
    args = p.parse_args(argv)

    bounds = list(range(args.start, args.end, args.step))
    windows = [(lo, min(lo + args.step, args.end)) for lo in bounds]
    args.out.mkdir(parents=True, exist_ok=True)
    stats, errors = Stats(), []
    threads = [threading.Thread(target=worker, args=(args, windows[i::args.threads], args.out,
                                                     stats, errors))
               for i in range(min(args.threads, len(windows)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    hints = stats.retry_after_ms
    print(json.dumps({
        "documents": sum(stats.windows.values()),
        "bytes": stats.bytes,
        "requests": stats.requests,
        "throttled": stats.throttled,
        "retry_after_ms": {"count": len(hints), "min": min(hints, default=None),
                           "median": statistics.median(hints) if hints else None,
                           "max": max(hints, default=None)},
        "first_request": stats.first_request,
        "last_reply": stats.last_reply,
        "copy_seconds": stats.last_reply - stats.first_request,
        "pause_ms": args.pause_ms,
        "windows": stats.windows,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

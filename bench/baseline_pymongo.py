#!/usr/bin/env python3
"""The Python baseline of the benchmark harness: the windowed copy a user would write on the
official SDKs (pymongo, azure-storage-blob) instead of using cosmocopy.

    python bench/baseline_pymongo.py --uri URI --db DB --collection C \\
        --from EPOCH --to EPOCH --step SECONDS (--out-dir DIR | --out-blob CONTAINER/PREFIX |
        --out-uri URI --out-db DB) [--variant savvy|usual] [--compress none|gzip|zstd]
        [--workers 4] [--batch-size 1000] [--max-retries 20]

The ObjectId range [from, to) is cut into windows of ``step`` seconds; ``--workers`` threads
each take the next window and copy it: ``find({_id: {$gte, $lt}}).sort(_id)`` with
``batch_size``, every document written as it arrives to

- ``--out-dir``: ``DIR/<db>.<collection>/<from>_<to>.bson`` (``.gz``, ``.zst`` when compressed),
  written to a ``.part`` file and renamed when the window is complete;
- ``--out-blob``: the blob ``PREFIX/<db>.<collection>/<from>_<to>.bson[.gz|.zst]`` in
  CONTAINER, uploaded as 4 MiB blocks while the window is read and committed at its end
  (bounded memory; ``$AZURE_STORAGE_CONNECTION_STRING`` names the account);
- ``--out-uri``: the collection of the same name in ``--out-db`` of another server, with
  unordered ``insert_many`` of each batch (the replicate scenario).

``--variant savvy`` reads ``RawBSONDocument`` and writes ``doc.raw`` (no decoding at all);
``--variant usual`` reads dicts, as pymongo does by default, and writes ``bson.encode(doc)``.

Retries: a Cosmos DB throttle (error 16500, ``RetryAfterMs`` in the message) or a lost
connection is retried up to ``--max-retries`` times in a row per window, after sleeping
RetryAfterMs (or 100 ms doubling to 5 s when the server gives no hint); a read resumes after
the last ``_id`` written, a batch of inserts is sent again (duplicate keys of the documents
that got in the first time are ignored).

Prints one JSON object: documents, bytes (BSON), windows, throttled (16500 replies met),
retries, first_request and last_reply (epoch seconds) and copy_seconds.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import bson
import pymongo
import zstandard
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import AutoReconnect, BulkWriteError, OperationFailure

THROTTLED = 16500
RETRY_AFTER = re.compile(r"RetryAfterMs=(\d+)")
BLOCK = 4 << 20
SUFFIX = {"none": ".bson", "gzip": ".bson.gz", "zstd": ".bson.zst"}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.documents = self.bytes = self.throttled = self.retries = 0
        self.first_request = self.last_reply = None

    def add(self, **counts):
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)


class Retry:
    """Sleeps before a retry; gives up after ``limit`` failures in a row."""

    def __init__(self, limit: int, stats: Stats):
        self.limit, self.stats, self.failures, self.backoff = limit, stats, 0, 0.1

    def wait(self, error: Exception) -> None:
        self.failures += 1
        if self.failures > self.limit:
            raise error
        hint = RETRY_AFTER.search(str(error))
        throttled = isinstance(error, OperationFailure) and error.code == THROTTLED
        if hint:
            pause = int(hint.group(1)) / 1000
        else:
            pause, self.backoff = self.backoff, min(self.backoff * 2, 5.0)
        self.stats.add(retries=1, throttled=int(throttled))
        time.sleep(pause)

    def ok(self) -> None:
        self.failures, self.backoff = 0, 0.1


def retryable(e: Exception) -> bool:
    return isinstance(e, AutoReconnect) or (
        isinstance(e, OperationFailure) and (e.code == THROTTLED or "RetryAfterMs" in str(e)))


# ------------------------------------------------------------------- sinks
class BlockUpload(io.RawIOBase):
    """A blob written as staged blocks of BLOCK bytes, committed by ``close()``."""

    def __init__(self, blob, retry: Retry):
        self.blob, self.retry, self.buf, self.blocks = blob, retry, bytearray(), []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buf += data
        while len(self.buf) >= BLOCK:
            self._stage(bytes(self.buf[:BLOCK]))
            del self.buf[:BLOCK]
        return len(data)

    def _stage(self, data: bytes) -> None:
        block_id = uuid.uuid4().hex
        self.blob.stage_block(block_id, data)  # the SDK retries failed requests itself
        self.blocks.append(block_id)

    def close(self) -> None:
        if not self.closed:
            if self.buf:
                self._stage(bytes(self.buf))
            self.blob.commit_block_list(self.blocks)
        super().close()


def open_sink(args, name: str, retry: Retry):
    """(raw stream, compressed stream) for one window's file or blob."""
    if args.out_dir:
        folder = os.path.join(args.out_dir, f"{args.db}.{args.collection}")
        os.makedirs(folder, exist_ok=True)
        raw = open(os.path.join(folder, name + ".part"), "wb")
    else:
        container, _, prefix = args.out_blob.partition("/")
        path = f"{prefix}/{args.db}.{args.collection}/{name}".lstrip("/")
        raw = BlockUpload(args.blob_service.get_blob_client(container, path), retry)
    if args.compress == "gzip":
        return raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6)
    if args.compress == "zstd":
        return raw, zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
    return raw, raw


def finish_sink(args, name: str, raw, stream) -> None:
    if stream is not raw:
        stream.close()
    if args.out_dir:
        raw.flush()
        os.fsync(raw.fileno())
        raw.close()
        folder = os.path.join(args.out_dir, f"{args.db}.{args.collection}")
        os.replace(os.path.join(folder, name + ".part"), os.path.join(folder, name))
    else:
        raw.close()


# ------------------------------------------------------------------- copy
def bound(seconds: int) -> bson.ObjectId:
    return bson.ObjectId(seconds.to_bytes(4, "big") + bytes(8))


def insert_batch(target, batch: list, retry: Retry) -> None:
    while True:
        try:
            target.insert_many(batch, ordered=False)
            retry.ok()
            return
        except BulkWriteError as e:
            errors = e.details.get("writeErrors", [])
            if errors and all(w.get("code") == 11000 for w in errors):
                return  # a retry of documents already written
            if not any(w.get("code") == THROTTLED for w in errors):
                raise
            retry.wait(OperationFailure(errors[0].get("errmsg", ""), THROTTLED))
        except (OperationFailure, AutoReconnect) as e:
            if not retryable(e):
                raise
            retry.wait(e)


def copy_window(args, source, target, start: int, end: int, stats: Stats) -> None:
    name = f"{start}_{end}{SUFFIX[args.compress]}"
    retry = Retry(args.max_retries, stats)
    raw = stream = None
    if target is None:
        raw, stream = open_sink(args, name, retry)
    last_id = None
    batch: list = []
    while True:  # one pass per attempt: resumes after the last _id written
        low = {"$gt": last_id} if last_id is not None else {"$gte": bound(start)}
        query = {"_id": {**low, "$lt": bound(end)}}
        try:
            with stats.lock:
                stats.first_request = stats.first_request or time.time()
            cursor = source.find(query).sort("_id", 1).batch_size(args.batch_size)
            for doc in cursor:
                data = doc.raw if args.variant == "savvy" else bson.encode(doc)
                if target is None:
                    stream.write(data)
                else:
                    batch.append(doc)
                    if len(batch) >= args.batch_size:
                        insert_batch(target, batch, retry)
                        batch = []
                last_id = doc["_id"]
                stats.add(documents=1, bytes=len(data))
                retry.ok()
            break
        except (OperationFailure, AutoReconnect) as e:
            if not retryable(e):
                raise
            retry.wait(e)
    if batch:
        insert_batch(target, batch, retry)
    if target is None:
        finish_sink(args, name, raw, stream)
    with stats.lock:
        stats.last_reply = time.time()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--collection", required=True)
    p.add_argument("--from", dest="start", type=int, required=True, help="epoch seconds")
    p.add_argument("--to", dest="end", type=int, required=True, help="epoch seconds")
    p.add_argument("--step", type=int, required=True, help="window length in seconds")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out-dir")
    out.add_argument("--out-blob", help="CONTAINER/PREFIX")
    out.add_argument("--out-uri")
    p.add_argument("--out-db", help="with --out-uri")
    p.add_argument("--variant", choices=("savvy", "usual"), default="savvy")
    p.add_argument("--compress", choices=tuple(SUFFIX), default="none")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--max-retries", type=int, default=20)
    args = p.parse_args(argv)
    if args.out_uri and not args.out_db:
        p.error("--out-uri needs --out-db")
    if args.out_uri and args.compress != "none":
        p.error("--compress applies to --out-dir and --out-blob only")

    doc_class = RawBSONDocument if args.variant == "savvy" else dict
    client = pymongo.MongoClient(args.uri, maxPoolSize=args.workers,
                                 document_class=doc_class)
    source = client[args.db].get_collection(
        args.collection, codec_options=CodecOptions(document_class=doc_class))
    target = None
    if args.out_uri:
        target = pymongo.MongoClient(args.out_uri, maxPoolSize=args.workers)[args.out_db][
            args.collection]
    if args.out_blob:
        from azure.storage.blob import BlobServiceClient

        conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if not conn:
            p.error("--out-blob needs $AZURE_STORAGE_CONNECTION_STRING")
        args.blob_service = BlobServiceClient.from_connection_string(
            conn, api_version=os.environ.get("AZURE_STORAGE_API_VERSION") or None)

    stats = Stats()
    windows = [(t, min(t + args.step, args.end)) for t in range(args.start, args.end, args.step)]
    with ThreadPoolExecutor(args.workers) as pool:
        for f in [pool.submit(copy_window, args, source, target, a, b, stats)
                  for a, b in windows]:
            f.result()
    print(json.dumps({
        "documents": stats.documents, "bytes": stats.bytes, "windows": len(windows),
        "throttled": stats.throttled, "retries": stats.retries,
        "first_request": stats.first_request, "last_reply": stats.last_reply,
        "copy_seconds": (stats.last_reply or 0) - (stats.first_request or 0),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Scenario ``replicate_restore``: replicate and restore the bench collection, and restore the
same folder with stock mongorestore.

    ./run bench replicate_restore                         # 40,000 documents, 2 repeats (~4.5 min)
    ./run bench replicate_restore --docs 2000 --repeat 1  # smoke run (~50 s)
    ./run bench replicate_restore --help                  # every option and its default

A private FerretDB holds ``--docs`` documents of ~1 KB over ``--days`` days (the generator of
``backup_folder``). ``cosmocopy backup --full --settle-lag 0s --step S`` writes them to a folder
once (measured, kept as the reference ``backup``, not compared), and the window files are
concatenated into ``dump/bench/docs.bson`` for mongorestore (timed, not part of any candidate).
Then, ``--repeat`` times, alternating, each into its own database of the same FerretDB, dropped
before the run:

- ``replicate``: ``cosmocopy replicate --full --settle-lag 0s --step S --parallel P``;
- ``restore``: ``cosmocopy restore --from dir:FOLDER`` (its default ``--mode upsert``);
- ``restore_insert``: the same with ``--mode insert`` (what mongorestore does);
- ``mongorestore``: stock mongorestore of the dump folder, ``--nsFrom/--nsTo``, its defaults
  (``--numInsertionWorkersPerCollection 1``);
- ``mongorestore_workers``: the same with ``--numInsertionWorkersPerCollection P``.

Each is a child of bench/spawn.py (``wait4``: wall time, user+sys CPU, peak RSS). Afterwards
pymongo reads the target back in ``_id`` order: its count and the SHA-256 of every raw document
must equal the source's, or the scenario exits with status 1 and saves nothing. The record
goes to bench/results/replicate_restore-<UTC start>.json; bench/README.md explains it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run as harness
from run import (COLLECTION, DB, MB, REPO, SETTLED, SOCKET_TIMEOUT_MS,  # noqa: E402
                 CheckError, environment, load, log, median_of, metrics, parse_step,
                 run_measured, save_record)
from ferretdb import FerretDB  # noqa: E402  (tests/support is on sys.path via run)
from bson.codec_options import CodecOptions  # noqa: E402
from bson.raw_bson import RawBSONDocument  # noqa: E402

CANDIDATES = ("replicate", "restore", "restore_insert", "mongorestore", "mongorestore_workers")
COSMOCOPY_CANDIDATES = ("replicate", "restore", "restore_insert")
MONGORESTORE_CANDIDATES = ("mongorestore", "mongorestore_workers")
# Each candidate writes into its own database, so a leftover of one never meets another.
TARGET_DB = {name: f"{DB}_{name}" for name in CANDIDATES}
# restore(cosmocopy) / mongorestore docs/s pairs the record reports.
RATIOS = [(c, m) for c in ("restore", "restore_insert") for m in MONGORESTORE_CANDIDATES]


def default_binary() -> Path:
    return Path(os.environ.get("CCOPY_BIN") or REPO / "build" / "cosmocopy")


def default_mongorestore() -> Path:
    return Path(os.environ.get("CCOPY_MONGORESTORE")
                or REPO / ".tools" / "mongo-tools" / "bin" / "mongorestore")


def use_binary(binary: Path) -> None:
    """Make run.py's environment() and save_record() describe ``binary`` (its version and
    digest, its rebuild check) instead of build/cosmocopy; run.py names its binaries as module
    constants. The drain beside it is listed too when there is one."""
    harness.COSMOCOPY = binary
    drain = binary.parent / "ccopy_bench_drain"
    harness.DRAIN = drain if drain.is_file() else binary


# ------------------------------------------------------------------ checking
def digest(coll) -> dict:
    """Count, BSON bytes and SHA-256 of every raw document of ``coll`` in ``_id`` order."""
    raw = coll.with_options(codec_options=CodecOptions(document_class=RawBSONDocument))
    sha, documents, nbytes = hashlib.sha256(), 0, 0
    for doc in raw.find({}).sort("_id", 1).batch_size(5000):
        sha.update(doc.raw)
        documents += 1
        nbytes += len(doc.raw)
    return {"documents": documents, "bytes": nbytes, "sha256": sha.hexdigest()}


def check_copy(client, db_name: str, source: dict, label: str) -> None:
    target = digest(client[db_name][COLLECTION])
    if target != source:
        raise CheckError(f"{label}: {db_name}.{COLLECTION} holds {target['documents']:,} "
                         f"documents, {target['bytes']:,} bytes, SHA-256 {target['sha256'][:16]}; "
                         f"the source {source['documents']:,}, {source['bytes']:,}, "
                         f"{source['sha256'][:16]}")


def cosmocopy_summary(stdout: str, label: str, source: dict) -> dict:
    """The --json summary, which must say ok and have moved every source document."""
    s = json.loads(stdout)
    if (s["status"] != "ok" or s["windows_failed"] or s.get("documents_rejected")
            or s["documents"] != source["documents"] or s["bytes"] != source["bytes"]):
        raise CheckError(f"{label}: status {s['status']!r}, {s['windows_failed']} failed windows, "
                         f"{s.get('documents_rejected')} rejected, {s['documents']:,} documents and "
                         f"{s['bytes']:,} bytes (source {source['documents']:,}, "
                         f"{source['bytes']:,}): {s.get('error')}")
    return s


# ---------------------------------------------------------------- candidates
class Bench:
    """The server, the source's digest, the folder and dump, and how to run each candidate."""

    def __init__(self, args, fdb, client, workdir: Path):
        self.args, self.client = args, client
        self.uri = f"{fdb.uri}?socketTimeoutMS={SOCKET_TIMEOUT_MS}"
        self.server_pid = fdb.proc.pid
        self.folder = workdir / "backup"
        self.dump = workdir / "dump"
        self.source: dict = {}

    def window_args(self) -> list[str]:
        return ["--full", "--settle-lag", "0s", "--step", f"{self.args.step}s",
                "--parallel", str(self.args.parallel)]

    def argv(self, name: str) -> list[str]:
        b, target = str(self.args.binary), TARGET_DB.get(name)
        if name == "backup":
            return [b, "backup", "--source", self.uri, "--db", DB, "--collection", COLLECTION,
                    "--to", f"dir:{self.folder}", *self.window_args(), "--quiet", "--json"]
        if name == "replicate":
            return [b, "replicate", "--source", self.uri, "--db", DB, "--collection", COLLECTION,
                    "--target", self.uri, "--target-db", target, *self.window_args(),
                    "--quiet", "--json"]
        if name in ("restore", "restore_insert"):
            mode = ["--mode", "insert"] if name == "restore_insert" else []
            return [b, "restore", "--from", f"dir:{self.folder}", "--to", self.uri, "--db", DB,
                    "--collection", COLLECTION, "--to-db", target, *mode,
                    "--parallel", str(self.args.parallel), "--quiet", "--json"]
        workers = (["--numInsertionWorkersPerCollection", str(self.args.parallel)]
                   if name == "mongorestore_workers" else [])
        return [str(self.args.mongorestore), "--uri", self.uri, "--nsFrom", f"{DB}.{COLLECTION}",
                "--nsTo", f"{target}.{COLLECTION}", *workers, str(self.dump)]

    def measure(self, name: str) -> dict:
        """One run of ``name`` into its freshly dropped database, checked, then dropped."""
        target = TARGET_DB.get(name)
        if target:
            self.client.drop_database(target)
        m = run_measured(self.argv(name), name, self.server_pid)
        result = metrics(self.source["documents"], self.source["bytes"], m)
        if name not in MONGORESTORE_CANDIDATES:
            s = cosmocopy_summary(m["stdout"], name, self.source)
            result.update(self_reported_seconds=s["elapsed_seconds"],
                          windows=s["windows_written"], retries=s["retries"],
                          throttle_events=s["throttle_events"])
        if target:
            check_copy(self.client, target, self.source, name)
            self.client.drop_database(target)
        log(f"  {name}: {result['docs_per_second']:,.0f} docs/s, {result['wall_seconds']:.1f} s, "
            f"{result['cpu_seconds_per_gb']:.1f} CPU s/GB, {result['peak_rss_mb']:.1f} MB RSS"
            + ("; copy equal to the source" if target else ""))
        return result

    def make_dump(self) -> dict:
        """dump/bench/docs.bson: the folder's window files concatenated in window order, as the
        README's "Restoring with stock mongorestore" does (without metadata.json: FerretDB 1.24
        refuses the "ns" option mongorestore puts into index specs). Timed on its own."""
        t0 = time.monotonic()
        (self.dump / DB).mkdir(parents=True)
        windows = sorted((self.folder / DB / COLLECTION).glob("*.bson"))
        with open(self.dump / DB / f"{COLLECTION}.bson", "wb") as out:
            for w in windows:
                with open(w, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        size = (self.dump / DB / f"{COLLECTION}.bson").stat().st_size
        if size != self.source["bytes"]:
            raise CheckError(f"the concatenated windows hold {size:,} bytes, the source "
                             f"{self.source['bytes']:,}")
        return {"seconds": time.monotonic() - t0, "files": len(windows), "bytes": size}


def ratio(runs: dict[str, list[dict]], num: str, den: str) -> dict | None:
    if num not in runs or den not in runs:
        return None
    a = [x["docs_per_second"] for x in runs[num]]
    b = [x["docs_per_second"] for x in runs[den]]
    return {"docs_per_second": statistics.median(a) / statistics.median(b),
            "per_repeat": [x / y for x, y in zip(a, b)]}


def scenario(args) -> dict:
    step = args.step
    end = (int(time.time()) - SETTLED) // step * step
    start = end - args.days * 86400
    out: dict = {}
    with FerretDB() as fdb, fdb.client() as client, \
            tempfile.TemporaryDirectory(prefix="ccopy-bench-") as tmp:
        bench = Bench(args, fdb, client, Path(tmp))
        log(f"FerretDB on {fdb.uri}; loading {args.docs:,} documents of ~{args.doc_size} bytes "
            f"over {args.days} days")
        load_seconds = load(client[DB][COLLECTION], args.docs, start, end, args.doc_size)
        bench.source = digest(client[DB][COLLECTION])
        if bench.source["documents"] != args.docs:
            raise CheckError(f"source holds {bench.source['documents']:,} documents, "
                             f"loaded {args.docs:,}")
        log(f"loaded in {load_seconds:.1f} s ({args.docs / load_seconds:,.0f} docs/s), "
            f"{bench.source['bytes'] / MB:.1f} MB of BSON")
        out.update(documents=args.docs, bytes=bench.source["bytes"],
                   source_sha256=bench.source["sha256"],
                   load={"seconds": load_seconds, "docs_per_second": args.docs / load_seconds})

        log("backup to a folder (the reference, measured once)")
        backup = bench.measure("backup")
        manifests = list((bench.folder / DB / COLLECTION).glob("*.manifest.json"))
        if len(manifests) != backup["windows"]:
            raise CheckError(f"the folder holds {len(manifests)} manifests, the backup wrote "
                             f"{backup['windows']} windows")
        out["backup_reference"] = backup
        if any(c in MONGORESTORE_CANDIDATES for c in args.candidates):
            out["concatenate"] = bench.make_dump()
            log(f"concatenated {out['concatenate']['files']} window files into the dump in "
                f"{out['concatenate']['seconds']:.2f} s (not measured as part of mongorestore)")

        runs: dict[str, list[dict]] = {}
        for r in range(1, args.repeat + 1):
            for name in args.candidates:
                log(f"repeat {r}/{args.repeat}: {name}")
                runs.setdefault(name, []).append(bench.measure(name))
        out["candidates"] = {name: {"argv": redact(bench.argv(name), bench),
                                    "median": median_of(rs), "repeats": rs}
                             for name, rs in runs.items()}
    out["ratio_restore_to_mongorestore"] = {
        f"{c}/{m}": r for c, m in RATIOS if (r := ratio(runs, c, m)) is not None}
    return out


def redact(argv: list[str], bench: Bench) -> list[str]:
    """The command line with the run's temporary paths and port made generic."""
    subs = {bench.uri: "URI", str(bench.folder): "FOLDER", str(bench.dump): "DUMP",
            str(bench.args.binary): "cosmocopy", str(bench.args.mongorestore): "mongorestore"}
    out = []
    for a in argv:
        for old, new in subs.items():
            a = a.replace(old, new)
        out.append(a)
    return out


# ------------------------------------------------------------------- output
def table(record: dict) -> list[str]:
    run = record["run"]
    p = record["parameters"]
    lines = [f"{run['documents']:,} documents ({run['bytes'] / MB:.1f} MB), --parallel "
             f"{p['parallel']}, medians of {p['repeat']}:",
             f"  {'candidate':20} {'docs/s':>8} {'MB/s':>6} {'CPU s/GB':>8} {'RSS MB':>7} "
             f"{'wall s':>7} {'FerretDB s':>10} {'other s':>7}"]
    rows = [("backup (ref.)", run["backup_reference"])]
    rows += [(name, c["median"]) for name, c in run["candidates"].items()]
    for name, m in rows:
        lines.append(f"  {name:20} {m['docs_per_second']:8,.0f} {m['mb_per_second']:6.2f} "
                     f"{m['cpu_seconds_per_gb']:8.1f} {m['peak_rss_mb']:7.1f} "
                     f"{m['wall_seconds']:7.1f} {m['server_cpu_seconds']:10.1f} "
                     f"{m['other_cpu_seconds']:7.1f}")
    for pair, r in run["ratio_restore_to_mongorestore"].items():
        per = ", ".join(f"{x:.3f}" for x in r["per_repeat"])
        lines.append(f"  docs/s {pair}: {r['docs_per_second']:.3f} (per repeat {per})")
    if "skipped" in run:
        lines.append(f"  skipped: {run['skipped']}")
    return lines


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(prog="./run bench replicate_restore",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--docs", type=int, default=40_000,
                   help="documents in the collection (every target starts empty, so upserts "
                        "are written as inserts; see bench/README.md on FerretDB's upserts)")
    p.add_argument("--doc-size", type=int, default=1024, help="approximate BSON bytes per document")
    p.add_argument("--days", type=int, default=8, help="days the ObjectIds are spread over")
    p.add_argument("--step", type=parse_step, default=parse_step("2d"),
                   help="window length (30m, 4h, 2d, ...)")
    p.add_argument("--parallel", type=int, default=4,
                   help="cosmocopy --parallel; mongorestore_workers' insertion workers")
    p.add_argument("--repeat", type=int, default=2, help="alternations of the candidates")
    p.add_argument("--candidates", type=lambda s: s.split(","), default=",".join(CANDIDATES),
                   help="comma-separated candidates, run in this order each repeat")
    p.add_argument("--binary", type=Path, default=default_binary(),
                   help="the cosmocopy command ($CCOPY_BIN when set)")
    p.add_argument("--mongorestore", type=Path, default=default_mongorestore(),
                   help="stock mongorestore ($CCOPY_MONGORESTORE when set); its candidates are "
                        "skipped, with a note in the record, when it is absent")
    args = p.parse_args(argv)
    if unknown := [c for c in args.candidates if c not in CANDIDATES]:
        p.error(f"unknown candidates {unknown}; --candidates takes {', '.join(CANDIDATES)}")
    harness.require_at_least_one(p, args, "docs", "doc_size", "repeat", "days", "parallel")
    args.binary = args.binary.resolve()
    return args


def mongorestore_version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not os.access(args.binary, os.X_OK):
        print(f"bench: {args.binary} not found; build first (./run build)", file=sys.stderr)
        return 2
    use_binary(args.binary)
    skipped = None
    if not os.access(args.mongorestore, os.X_OK):
        dropped = [c for c in args.candidates if c in MONGORESTORE_CANDIDATES]
        args.candidates = [c for c in args.candidates if c not in MONGORESTORE_CANDIDATES]
        if dropped:
            skipped = (f"{', '.join(dropped)}: mongorestore not found at {args.mongorestore} "
                       f"(./run setup mongotools, or set CCOPY_MONGORESTORE)")
            log(f"skipping {skipped}")
    if not args.candidates:
        print("bench: no candidate left to run", file=sys.stderr)
        return 2
    started = dt.datetime.now(dt.timezone.utc)
    env = environment()
    if not skipped:
        env["mongorestore"] = mongorestore_version(args.mongorestore)
    try:
        run = scenario(args)
    except CheckError as e:
        print(f"bench: CONTENT CHECK FAILED: {e}", file=sys.stderr)
        return 1
    if skipped:
        run["skipped"] = skipped
    record = {
        "scenario": "replicate_restore",
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {
            "docs": args.docs, "doc_size": args.doc_size, "days": args.days,
            "step_seconds": args.step, "parallel": args.parallel, "repeat": args.repeat,
            "candidates": args.candidates, "socket_timeout_ms": SOCKET_TIMEOUT_MS,
            "binary": str(args.binary),
        },
        "environment": env,
        "run": run,
    }
    save_record(record, "replicate_restore", started, table(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

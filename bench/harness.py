#!/usr/bin/env python3
"""The benchmark harness: cosmocopy against what users would run instead, scenario by scenario.

    ./run bench                          # every scenario, 20,000 documents of ~1 KB + ~16 KB
    ./run bench --quick                  # every scenario, small (a few minutes)
    ./run bench --scenarios folder,throttled --docs 50000 --repeat 3
    ./run bench report                   # docs/bench/latest.md, the plots and README's table
                                         # again from the newest records
    ./run bench --help                   # every option

One private FerretDB holds seeded collections of rich documents (tests/support/datagen.py,
``rich=True``); each scenario alternates its candidates over the same ObjectId windows
``--repeat`` times; every candidate runs as a child of bench/spawn.py, whose ``wait4`` measures
the copying process alone (wall, CPU, peak RSS), and every copy is checked against the source
(count and SHA-256 of the documents) before any of its figures is reported. Each scenario
writes bench/results/<scenario>-<UTC start>.json; then the report is made again:
docs/bench/latest.md (tables), docs/bench/cpu_per_gb.png, docs/bench/throttled.png and the
table between the bench markers of README.md. bench/README.md documents every scenario,
candidate, figure and option.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from itertools import islice
from pathlib import Path

from run import (COSMOCOPY, DRAIN, GB, MB, PY_BACKUP, PY_TREE, REPO, SETTLED,  # noqa: E402
                 SOCKET_TIMEOUT_MS, CheckError, Range, environment, log, metrics, parse_step,
                 python_kwargs, require_at_least_one, run_measured, server_cpu_seconds,
                 version_of)
import bson  # noqa: E402
import pymongo  # noqa: E402
import zstandard  # noqa: E402
from bson.codec_options import CodecOptions  # noqa: E402
from bson.raw_bson import RawBSONDocument  # noqa: E402

import backupcheck  # noqa: E402  (tests/support, on sys.path through run)
import datagen  # noqa: E402
from ferretdb import FerretDB  # noqa: E402

BASELINE = REPO / "bench" / "baseline_pymongo.py"
DASK = REPO / "bench" / "dask_scale.py"
THROTTLE = REPO / "bench" / "throttle.py"
TOOLS = REPO / ".tools" / "mongo-tools" / "bin"
DOCS_DIR = REPO / "docs" / "bench"
RESULTS_DIR = REPO / "bench" / "results"
README = REPO / "README.md"
MARK_BEGIN, MARK_END = "<!-- bench:begin -->", "<!-- bench:end -->"
DB = "bench"
RAW = CodecOptions(document_class=RawBSONDocument)
LOAD_BATCH = 500
SCENARIOS = ("folder", "blob", "replicate", "restore", "throttled", "random_throttle", "app_load",
             "dask")
_BLOB_CANDIDATES = tuple(f"{kind}_{compress}" for kind in (
    "cosmocopy", "cosmocopy_python", "baseline_savvy", "baseline_usual")
    for compress in ("none", "gzip", "zstd"))
CANDIDATES = {  # what --candidates accepts, scenario by scenario (dask has no candidates)
    "folder": ("drain", *_BLOB_CANDIDATES, "mongodump_none", "mongodump_gzip"),
    "blob": _BLOB_CANDIDATES,
    "replicate": ("cosmocopy_replicate", "baseline_savvy", "baseline_usual",
                  "mongodump_mongorestore"),
    "restore": ("cosmocopy_restore", "mongorestore"),
    "throttled": ("cosmocopy_adaptive", "cosmocopy_max_ru", "baseline_savvy", "baseline_usual"),
}
SUBPROCESS_SCENARIOS = ("random_throttle", "app_load", "dask")  # their own scripts and records
QUICK = {"docs": 2000, "doc_sizes": [1024], "repeat": 1, "ru": 100}


def tool(name: str) -> Path:
    """mongodump / mongorestore built by scripts/setup.sh (or $CCOPY_MONGODUMP, ...)."""
    return Path(os.environ.get(f"CCOPY_{name.upper()}", TOOLS / name))


# ------------------------------------------------------------------ data
class Dataset:
    """One collection of the source: its documents, and the content of the two ranges the
    candidates copy (``half``: the first half of the windows, ``full``: all of them)."""

    def __init__(self, name: str, doc_size: int, docs: int, rng: Range):
        self.name, self.doc_size, self.docs, self.rng = name, doc_size, docs, rng
        half_end = rng.start + (rng.windows // 2) * rng.step
        self.ranges = {"full": rng, "half": Range(rng.start, half_end, rng.step)}
        self.expected: dict[str, dict] = {}


class Digest:
    """Count, BSON bytes and an order-independent SHA-256 of a set of documents: the sum
    modulo 2^256 of each raw document's SHA-256. Two copies agree only if they hold the same
    documents, byte for byte, each as often (memory stays flat whatever the size)."""

    def __init__(self):
        self.documents = self.bytes = self.total = 0

    def add(self, raw: bytes) -> None:
        self.documents += 1
        self.bytes += len(raw)
        self.total = (self.total + int.from_bytes(hashlib.sha256(raw).digest(), "big")) % (1 << 256)

    def add_all(self, raws) -> "Digest":
        for raw in raws:
            self.add(raw)
        return self

    def as_dict(self) -> dict:
        return {"documents": self.documents, "bytes": self.bytes,
                "sha256": f"{self.total:064x}"}


def oid_at(seconds: int) -> bson.ObjectId:
    return bson.ObjectId(seconds.to_bytes(4, "big") + bytes(8))


def load_dataset(client, ds: Dataset) -> float:
    coll = client[DB][ds.name]
    coll.drop()
    docs = datagen.iter_spread(ds.rng.start, ds.rng.end, ds.docs, doc_size=ds.doc_size,
                               seed=ds.doc_size, rich=True)
    t0 = time.monotonic()
    while batch := list(islice(docs, LOAD_BATCH)):
        coll.insert_many(batch, ordered=False)
    seconds = time.monotonic() - t0
    half_end = oid_at(ds.ranges["half"].end)
    full, half = Digest(), Digest()
    for doc in coll.with_options(codec_options=RAW).find({}, batch_size=2000):
        full.add(doc.raw)
        if doc["_id"] < half_end:
            half.add(doc.raw)
    ds.expected = {"full": full.as_dict(), "half": half.as_dict()}
    if full.documents != ds.docs:
        raise CheckError(f"{ds.name}: the source holds {full.documents:,} documents, "
                         f"{ds.docs:,} were loaded")
    return seconds


def raws_of_files(paths) -> list:
    """Raw documents of .bson files, plain, .gz or .zst."""
    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        elif path.suffix == ".zst":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        for doc in bson.decode_all(data, RAW):
            yield doc.raw


def raws_of_collection(coll):
    for doc in coll.with_options(codec_options=RAW).find({}, batch_size=2000):
        yield doc.raw


def digest_of_backup(read) -> Digest | dict:
    """The digest of the documents ``read()`` gives ({_id: raw}), or what made the backup
    unreadable (a data file missing or damaged, an _id twice: backupcheck's AssertionError,
    or a file that does not decode):
    then that copy differs, and the scenario's record is still saved."""
    try:
        return Digest().add_all(read().values())
    except (AssertionError, OSError, ValueError, bson.errors.BSONError) as e:
        return {"documents": None, "bytes": None, "sha256": None,
                "unreadable": f"{type(e).__name__}: {e}"[:500]}


def check(expected: dict, found: Digest | dict) -> dict:
    found = found.as_dict() if isinstance(found, Digest) else found
    ok = all(found[k] == expected[k] for k in ("documents", "bytes", "sha256"))
    out = {"ok": ok, **found}
    if not ok:
        out["expected"] = expected
    return out


# ------------------------------------------------------------ candidates
class Bench:
    """What every measured run needs: the servers, the datasets, the options."""

    def __init__(self, args, fdb, client):
        self.args, self.fdb, self.client = args, fdb, client
        self.pid = fdb.proc.pid
        self.uri = f"{fdb.uri}?socketTimeoutMS={SOCKET_TIMEOUT_MS}"
        self.az = None
        self.seq = 0

    def fresh(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}{self.seq:03d}"

    def measure(self, label: str, argv: list[str], documents: int, nbytes: int,
                extra_pids=()) -> tuple[dict, dict]:
        """Run ``argv`` through spawn.py; its figures and its stdout (JSON when it prints
        one). CPU of ``extra_pids`` (Azurite, the proxy) is taken out of ``other``."""
        extra0 = [server_cpu_seconds(p) for p in extra_pids]
        m = run_measured(argv, label, self.pid)
        extra = sum(server_cpu_seconds(p) for p in extra_pids) - sum(extra0)
        m["other_cpu_seconds"] = max(m["other_cpu_seconds"] - extra, 0.0)
        fig = metrics(documents, nbytes, m)
        fig["service_cpu_seconds"] = extra
        text = m["stdout"].strip()
        try:
            out = json.loads(text) if text else {}
        except json.JSONDecodeError:
            try:
                out = json.loads(text.splitlines()[-1])
            except json.JSONDecodeError:
                out = {}
        return fig, out


def window_args(rng: Range) -> list[str]:
    frm, to, step = rng.args()
    return ["--from", frm, "--to", to, "--step", step]


def cosmocopy_backup_argv(b: Bench, ds: Dataset, rng: Range, dest: str, compress: str):
    frm, to, step = rng.args()
    argv = [str(COSMOCOPY), "backup", "--source", b.uri, "--db", DB, "--collection", ds.name,
            "--to", dest, "--from", frm, "--to", to, "--step", step,
            "--parallel", str(b.args.parallel), "--batch-size", str(b.args.batch_size),
            "--compress", compress, "--quiet", "--json"]
    if dest.startswith("azblob:"):
        argv += ["--blob-connection-string", b.az.connection_string]
    return argv


def baseline_argv(b: Bench, ds: Dataset, rng: Range, variant: str, out: list[str],
                  compress: str = "none", uri: str | None = None) -> list[str]:
    return [sys.executable, str(BASELINE), "--uri", uri or b.uri, "--db", DB,
            "--collection", ds.name, "--from", str(rng.start), "--to", str(rng.end),
            "--step", str(rng.step), "--variant", variant, "--compress", compress,
            "--workers", str(b.args.parallel), "--batch-size", str(b.args.batch_size), *out]


def mongodump_query(rng: Range) -> str:
    return json.dumps({"_id": {"$gte": {"$oid": str(oid_at(rng.start))},
                               "$lt": {"$oid": str(oid_at(rng.end))}}})


def cosmocopy_summary_ok(label: str, s: dict) -> None:
    if s.get("status") != "ok" or s.get("windows_failed"):
        raise CheckError(f"{label}: cosmocopy reported status {s.get('status')!r}, "
                         f"{s.get('windows_failed')} failed windows: {s.get('errors')}")


def run_backup_candidate(b: Bench, name: str, ds: Dataset, size: str) -> dict:
    """One measured backup by candidate ``name`` of ``ds``'s ``size`` range, checked."""
    rng, expected = ds.ranges[size], ds.expected[size]
    docs, nbytes = expected["documents"], expected["bytes"]
    label = f"{name} {ds.name} {size}"
    tmp = Path(tempfile.mkdtemp(prefix="ccopy-harness-"))
    extra_pids = (b.az.proc.pid,) if b.az else ()
    try:
        kind, _, compress = name.rpartition("_")
        if name == "drain":
            frm, to, step = rng.args()
            fig, out = b.measure(label, [str(DRAIN), b.uri, DB, ds.name, frm, to, step,
                                         str(b.args.parallel), str(b.args.batch_size)],
                                 docs, nbytes)
            found = {"documents": out["documents"], "bytes": out["bytes"],
                     "sha256": expected["sha256"]}  # the drain keeps nothing to hash
            fig["content_check"] = check(expected, found)
            fig["content_check"]["note"] = "count and bytes only: the drain keeps nothing"
            return fig
        blob = b.args.scenario_now == "blob"
        if blob:
            container = b.fresh("bench-")
            b.az.make_container(container)
            dest = f"azblob://{container}/backup"
        else:
            dest = f"dir:{tmp / 'out'}"
        if kind in ("cosmocopy", "cosmocopy_python"):
            argv = cosmocopy_backup_argv(b, ds, rng, dest, compress)
            if kind == "cosmocopy_python":
                kwargs = python_kwargs(argv[:argv.index("--quiet") + 2])
                if blob:
                    kwargs["blob_connection_string"] = b.az.connection_string
                argv = [sys.executable, str(PY_BACKUP), "backup", json.dumps(kwargs)]
            fig, s = b.measure(label, argv, docs, nbytes, extra_pids)
            cosmocopy_summary_ok(label, s)
            fig.update(stored_bytes=s.get("stored_bytes"), retries=s.get("retries"),
                       throttle_events=s.get("throttle_events"))
            if blob:
                import blobcheck
                client = b.az.service_client().get_container_client(container)
                found = digest_of_backup(
                    lambda: blobcheck.read_blob_backup(client, "backup").docs(DB, ds.name))
            else:
                found = digest_of_backup(
                    lambda: backupcheck.read_backup(tmp / "out").docs(DB, ds.name))
        elif kind.startswith("baseline_"):
            variant = kind.split("_", 1)[1]
            if blob:
                out = ["--out-blob", f"{container}/backup"]
            else:
                out = ["--out-dir", str(tmp / "out")]
            fig, s = b.measure(label, baseline_argv(b, ds, rng, variant, out, compress),
                               docs, nbytes, extra_pids)
            fig.update(retries=s.get("retries"), throttle_events=s.get("throttled"))
            if blob:
                cc = b.az.service_client().get_container_client(container)
                found = Digest()
                for item in cc.list_blobs(name_starts_with="backup/"):
                    p = tmp / Path(item.name).name
                    p.write_bytes(cc.download_blob(item.name).readall())
                    found.add_all(raws_of_files([p]))
                    p.unlink()
            else:
                found = Digest().add_all(raws_of_files(sorted((tmp / "out").rglob("*.bson*"))))
            fig["stored_bytes"] = None
        elif kind == "mongodump":
            gz = ["--gzip"] if compress == "gzip" else []
            argv = [str(tool("mongodump")), "--uri", b.uri, "--db", DB, "--collection", ds.name,
                    "--query", mongodump_query(rng), "--out", str(tmp / "out"), "--quiet", *gz]
            fig, _ = b.measure(label, argv, docs, nbytes)
            found = Digest().add_all(raws_of_files(sorted((tmp / "out").rglob("*.bson*"))))
        else:
            raise ValueError(f"unknown candidate {name}")
        fig["content_check"] = check(expected, found)
        return fig
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------- scenarios
def summarize(runs: dict[str, list[dict]], half: dict[str, list[dict]] | None = None) -> dict:
    """Median per candidate; with the half-range runs, marginal CPU per extra GB."""
    out = {}
    for name, repeats in runs.items():
        ok = all(r["content_check"]["ok"] for r in repeats)
        med = {k: statistics.median(r[k] for r in repeats)
               for k, v in repeats[0].items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)
               and all(r.get(k) is not None for r in repeats)}
        entry = {"content_ok": ok, "median": med if ok else None, "repeats": repeats}
        if half and name in half and ok and all(r["content_check"]["ok"] for r in half[name]):
            h = statistics.median(r["cpu_seconds"] for r in half[name])
            hb = statistics.median(r["bytes"] for r in half[name])
            extra_gb = (med["bytes"] - hb) / GB
            entry["half_median_cpu_seconds"] = h
            entry["marginal_cpu_seconds_per_gb"] = ((med["cpu_seconds"] - h) / extra_gb
                                                    if extra_gb > 0 else None)
            entry["half_repeats"] = half[name]
        out[name] = entry
    return out


def alternate(b: Bench, names: list[str], ds: Dataset, sizes: list[str], runner) -> dict:
    runs = {size: {n: [] for n in names} for size in sizes}
    for r in range(1, b.args.repeat + 1):
        for size in sizes:
            for name in names:
                log(f"repeat {r}/{b.args.repeat} {ds.name} {size}: {name}")
                fig = runner(b, name, ds, size)
                runs[size][name].append(fig)
                cc = fig["content_check"]
                log(f"  {name}: {fig['docs_per_second']:,.0f} docs/s, "
                    f"{fig['cpu_seconds_per_gb']:.2f} CPU s/GB, {fig['peak_rss_mb']:.1f} MB RSS, "
                    f"content {'ok' if cc['ok'] else 'DIFFERS'}")
    return summarize(runs["full"], runs.get("half"))


def folder_candidates(args) -> list[str]:
    names = ["drain", "cosmocopy_none"]
    if any(PY_TREE.glob("cosmocopy/_native/_engine*.so")):
        names.append("cosmocopy_python_none")
    names += ["baseline_savvy_none", "baseline_usual_none"]
    if os.access(tool("mongodump"), os.X_OK):
        names.append("mongodump_none")
    return names


def scenario_folder(b: Bench) -> dict:
    """Backup to a folder: every candidate, both sizes (half and full range), each dataset."""
    names = b.args.candidates or folder_candidates(b.args)
    return {ds.name: {"candidates": alternate(b, names, ds, ["half", "full"],
                                              run_backup_candidate)}
            for ds in b.datasets}


def scenario_blob(b: Bench) -> dict:
    """Backup to Azurite with none, gzip and zstd."""
    from azurite import Azurite

    names = b.args.candidates or [
        "cosmocopy_none", "cosmocopy_gzip", "cosmocopy_zstd", "cosmocopy_python_zstd",
        "baseline_savvy_none", "baseline_savvy_gzip", "baseline_savvy_zstd",
        "baseline_usual_none"]
    if not any(PY_TREE.glob("cosmocopy/_native/_engine*.so")):
        names = [n for n in names if not n.startswith("cosmocopy_python")]
    with Azurite() as az:
        b.az = az
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = az.connection_string
        import azurite
        os.environ["AZURE_STORAGE_API_VERSION"] = azurite.API_VERSION
        try:
            return {ds.name: {"candidates": alternate(b, names, ds, ["full"],
                                                      run_backup_candidate)}
                    for ds in b.datasets[:1]}
        finally:
            b.az = None
            os.environ.pop("AZURE_STORAGE_CONNECTION_STRING", None)


def run_target_candidate(b: Bench, name: str, ds: Dataset, size: str) -> dict:
    """Replicate (or restore) into a fresh database of the same FerretDB, checked there."""
    rng, expected = ds.ranges[size], ds.expected[size]
    target_db = f"bench_{name}"
    b.client.drop_database(target_db)
    label = f"{name} {ds.name}"
    frm, to, step = rng.args()
    if name == "cosmocopy_replicate":
        argv = [str(COSMOCOPY), "replicate", "--source", b.uri, "--db", DB, "--collection",
                ds.name, "--target", b.uri, "--target-db", target_db, "--from", frm, "--to", to,
                "--step", step, "--parallel", str(b.args.parallel), "--batch-size",
                str(b.args.batch_size), "--quiet", "--json"]
    elif name.startswith("baseline_"):
        argv = baseline_argv(b, ds, rng, name.split("_")[1],
                             ["--out-uri", b.uri, "--out-db", target_db])
    elif name == "mongodump_mongorestore":
        # the stock pipe: mongodump --archive | mongorestore --archive (wait4 of the shell
        # includes both, which it waits for)
        dump = [str(tool("mongodump")), "--uri", b.uri, "--db", DB, "--collection", ds.name,
                "--query", mongodump_query(rng), "--archive", "--quiet"]
        restore = [str(tool("mongorestore")), "--uri", b.uri, "--archive", "--quiet",
                   "--noIndexRestore", "--nsFrom", f"{DB}.{ds.name}",
                   "--nsTo", f"{target_db}.{ds.name}"]
        argv = ["/bin/sh", "-c", 'eval "$1" | eval "$2"', "sh",
                " ".join(map(sh_quote, dump)), " ".join(map(sh_quote, restore))]
    elif name == "cosmocopy_restore":
        argv = [str(COSMOCOPY), "restore", "--from", f"dir:{b.restore_folder}", "--to", b.uri,
                "--db", DB, "--collection", ds.name, "--to-db", target_db,
                "--parallel", str(b.args.parallel), "--quiet", "--json"]
    elif name == "mongorestore":
        argv = [str(tool("mongorestore")), "--uri", b.uri, "--quiet", "--noIndexRestore",
                "--nsFrom", f"{DB}.{ds.name}", "--nsTo", f"{target_db}.{ds.name}",
                "--numInsertionWorkersPerCollection", str(b.args.parallel), str(b.restore_dump)]
    else:
        raise ValueError(f"unknown candidate {name}")
    fig, s = b.measure(label, argv, expected["documents"], expected["bytes"])
    if name.startswith("cosmocopy"):
        cosmocopy_summary_ok(label, s)
    found = Digest().add_all(raws_of_collection(b.client[target_db][ds.name]))
    fig["content_check"] = check(expected, found)
    b.client.drop_database(target_db)
    return fig


def sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def scenario_replicate(b: Bench) -> dict:
    names = b.args.candidates or ["cosmocopy_replicate", "baseline_savvy", "baseline_usual",
                                  "mongodump_mongorestore"]
    return {ds.name: {"candidates": alternate(b, names, ds, ["full"], run_target_candidate)}
            for ds in b.datasets[:1]}


def scenario_restore(b: Bench) -> dict:
    """Restore a cosmocopy backup (cosmocopy restore) and a mongodump folder (mongorestore),
    both made once beforehand and not measured."""
    names = b.args.candidates or ["cosmocopy_restore", "mongorestore"]
    out = {}
    for ds in b.datasets[:1]:
        tmp = Path(tempfile.mkdtemp(prefix="ccopy-harness-restore-"))
        try:
            b.restore_folder, b.restore_dump = tmp / "backup", tmp / "dump"
            rng = ds.ranges["full"]
            subprocess.run(cosmocopy_backup_argv(b, ds, rng, f"dir:{b.restore_folder}", "none"),
                           check=True, capture_output=True)
            subprocess.run([str(tool("mongodump")), "--uri", b.uri, "--db", DB, "--collection",
                            ds.name, "--query", mongodump_query(rng), "--out",
                            str(b.restore_dump), "--quiet"], check=True, capture_output=True)
            # FerretDB 1.24 refuses the "ns" option mongorestore puts into index specs
            for meta in b.restore_dump.rglob("*.metadata.json"):
                meta.unlink()
            out[ds.name] = {"candidates": alternate(b, names, ds, ["full"],
                                                    run_target_candidate)}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def scenario_throttled(b: Bench) -> dict:
    """Backup through tests/support/cosmosproxy.py at a fixed RU budget (bench/throttle.py's
    proxy process and figures), every candidate in a fresh proxy."""
    import throttle

    ds = b.datasets[0]
    rng, expected = ds.ranges["full"], ds.expected["full"]
    budget = b.args.ru
    names = b.args.candidates or ["cosmocopy_adaptive", "cosmocopy_max_ru",
                                  "baseline_savvy", "baseline_usual"]
    targs = types.SimpleNamespace(parallel=b.args.parallel, batch_size=b.args.batch_size)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(1, b.args.repeat + 1):
        for name in names:
            log(f"repeat {r}/{b.args.repeat} {ds.name} at {budget:,} RU/s: {name}")
            tmp = Path(tempfile.mkdtemp(prefix="ccopy-harness-throttled-"))
            try:
                with throttle.ProxyProcess(b.fdb.port, budget) as proxy:
                    uri = proxy.uri()
                    if name.startswith("cosmocopy"):
                        extra = ["--max-ru", str(budget)] if name == "cosmocopy_max_ru" else []
                        argv = cosmocopy_backup_argv(b, ds, rng, f"dir:{tmp / 'out'}", "none")
                        argv[argv.index("--source") + 1] = uri
                        launched = time.time()
                        fig, s = b.measure(name, argv + extra, expected["documents"],
                                           expected["bytes"], (proxy.proc.pid,))
                        cosmocopy_summary_ok(name, s)
                        start = launched + s["planning_seconds"]
                        span = (start, start + s["copy_seconds"])
                        fig.update(retries=s.get("retries"),
                                   throttle_events=s.get("throttle_events"))
                        found = digest_of_backup(
                            lambda: backupcheck.read_backup(tmp / "out").docs(DB, ds.name))
                    else:
                        argv = baseline_argv(b, ds, rng, name.split("_")[1],
                                             ["--out-dir", str(tmp / "out")], uri=uri)
                        fig, s = b.measure(name, argv, expected["documents"],
                                           expected["bytes"], (proxy.proc.pid,))
                        span = (s["first_request"], s["last_reply"])
                        fig.update(retries=s.get("retries"), throttle_events=s.get("throttled"))
                        found = Digest().add_all(raws_of_files(sorted((tmp / "out").rglob(
                            "*.bson*"))))
                    fig.update(throttle.proxy_fields(proxy.stop(), span, budget,
                                                     b.args.parallel))
                    fig["copy_seconds"] = span[1] - span[0]
                fig["content_check"] = check(expected, found)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            runs[name].append(fig)
            log(f"  {name}: {fig['docs_per_second']:,.0f} docs/s, utilisation "
                f"{utilisation_cell(fig)}, throttled {fig['throttled_fraction']:.1%}, "
                f"{fig['cpu_seconds_per_gb']:.2f} CPU s/GB, content "
                f"{'ok' if fig['content_check']['ok'] else 'DIFFERS'}")
    return {ds.name: {"budget_ru_per_second": budget, "candidates": summarize(runs)}}


def scenario_dask(b: Bench) -> dict:
    """The Dask scenario lives in bench/dask_scale.py (built separately): run it if it exists
    (smaller in quick mode: 1,000 documents, 1 and 2 workers) and keep its JSON output."""
    if not DASK.exists():
        return {"skipped": "bench/dask_scale.py does not exist yet"}
    quick = ["--docs", "1000", "--hours", "6", "--workers", "1", "2"]
    argv = ([sys.executable, str(DASK), "--results-dir", str(b.args.results_dir)]
            + (quick if b.args.quick else []))
    out, rec = run_recording_script("dask", argv, "dask_scale", b.args.results_dir)
    if rec:  # its figures, for the report's table
        out.update(parameters=rec["parameters"], rows=rec["run"]["rows"])
    return out


def run_recording_script(name: str, argv: list[str], prefix: str,
                         results_dir: Path) -> tuple[dict, dict | None]:
    """Run a bench script that saves a record of its own (``<prefix>-<time>.json`` in
    ``results_dir``): what the harness keeps of the run, and that record (None without one)."""
    log(f"{name}: {' '.join(argv[1:])}")
    before = set(results_dir.glob(f"{prefix}-*.json"))
    p = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    out: dict = {"argv": argv[1:], "exit_code": p.returncode}
    made = sorted(set(results_dir.glob(f"{prefix}-*.json")) - before)
    if made:
        out["record"] = rel(made[-1])
    else:
        out["stdout_tail"] = p.stdout[-2000:]
    if p.returncode:
        out["stderr_tail"] = p.stderr[-2000:]
    return out, json.loads(made[-1].read_text()) if made else None


def throttle_mode(b: Bench, name: str, mode_args: list[str]) -> dict:
    """A mode of bench/throttle.py (throttling the job does not cause, issue 14): run it with
    its own FerretDB and proxy, keep its figures from the record it saved."""
    argv = [sys.executable, str(THROTTLE), *mode_args, "--results-dir", str(b.args.results_dir)]
    out, rec = run_recording_script(name, argv, "throttle", b.args.results_dir)
    if rec:
        out.update(parameters=rec["parameters"], run=rec["run"])
    return out


def scenario_random_throttle(b: Bench) -> dict:
    """40% of the requests throttled at random, whatever the rate: the copy against the same
    copy unthrottled, alternated (target: at most 3 times as long)."""
    docs, repeat = (3000, 1) if b.args.quick else (10_000, 2)
    return throttle_mode(b, "random_throttle", ["--random-throttle", "0.4", "--docs", str(docs),
                                                "--demand-repeat", str(repeat)])


def scenario_app_load(b: Bench) -> dict:
    """An application sharing a 400 RU/s budget at 20%, 60%, 40% and 70% of it, 10 s each:
    the job's share of what the application leaves (target: at least 0.9)."""
    docs, repeat = (5000, 1) if b.args.quick else (20_000, 2)
    return throttle_mode(b, "app_load", ["--app-load", "0.2,0.6,0.4,0.7", "--app-period", "10",
                                         "--ru", "400", "--docs", str(docs),
                                         "--demand-repeat", str(repeat)])


RUNNERS = {"folder": scenario_folder, "blob": scenario_blob, "replicate": scenario_replicate,
           "restore": scenario_restore, "throttled": scenario_throttled,
           "random_throttle": scenario_random_throttle, "app_load": scenario_app_load,
           "dask": scenario_dask}


# ------------------------------------------------------------------ report
def content_ok(result: dict) -> bool:
    return all(c["content_ok"] for ds in result.values() if isinstance(ds, dict)
               for c in ds.get("candidates", {}).values())


def latest_records(results_dir: Path) -> dict[str, dict]:
    """The newest record of each harness scenario, preferring full runs to --quick ones and
    runs of every candidate to runs of a few (``--candidates``, a question about those few)."""
    best: dict[str, tuple] = {}
    for path in sorted(results_dir.glob("*.json")):
        scenario = path.name.rsplit("-", 1)[0]
        if scenario not in SCENARIOS:
            continue
        rec = json.loads(path.read_text())
        if rec.get("harness") != 1:
            continue
        key = (not rec["parameters"].get("quick"), not rec["parameters"].get("candidates"),
               path.name)
        if scenario not in best or key > best[scenario][0]:
            best[scenario] = (key, rec, path)
    return {s: (rec, path) for s, (_, rec, path) in best.items()}


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table_lines(records: dict) -> list[str]:
    lines = []
    titles = {"folder": "Backup to a folder", "blob": "Backup to Azure Blob (Azurite)",
              "replicate": "Replicate to another collection", "restore": "Restore",
              "throttled": "Backup through the Cosmos proxy at a fixed RU budget"}
    for scenario in SCENARIOS:
        if scenario not in records:
            continue
        rec, path = records[scenario]
        if scenario == "dask":
            lines += dask_lines(rec, path)
            continue
        if scenario in ("random_throttle", "app_load"):
            lines += throttle_mode_lines(scenario, rec, path)
            continue
        p = rec["parameters"]
        for ds_name, ds in rec["result"].items():
            info = next(d for d in rec["datasets"] if d["name"] == ds_name)
            head = (f"### {titles[scenario]}: {info['documents']:,} documents of ~"
                    f"{info['doc_size'] // 1024} KB ({info['bytes'] / MB:.1f} MB of BSON)")
            lines += [head, "",
                      f"`{rel(path)}`: {p['repeat']} repeat(s), medians; "
                      f"`--parallel {p['parallel']}`, `--batch-size {p['batch_size']}`"
                      + (f", budget {ds['budget_ru_per_second']:,} RU/s"
                         if "budget_ru_per_second" in ds else "")
                      + f"; commit {rec['environment']['git']['commit'][:7]}"
                      + (" (dirty)" if rec['environment']['git']['dirty'] else "")
                      + ("; quick mode" if p.get("quick") else ""), "",
                      "| candidate | docs/s | MB/s | client CPU s/GB | per extra GB | peak RSS MB "
                      "| throttled | RU utilisation | content |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
            for name, c in ds["candidates"].items():
                m = c["median"]
                if m is None:
                    lines.append(f"| `{name}` | | | | | | | | **differs** |")
                    continue
                lines.append(
                    f"| `{name}` | {fmt(m['docs_per_second'], ',.0f')} "
                    f"| {fmt(m['mb_per_second'], '.2f')} | {fmt(m['cpu_seconds_per_gb'], '.2f')} "
                    f"| {fmt(c.get('marginal_cpu_seconds_per_gb'), '.2f')} "
                    f"| {fmt(m['peak_rss_mb'], '.1f')} "
                    f"| {fmt(m.get('throttled_fraction'), '.1%')} "
                    f"| {utilisation_cell(m)} | ok |")
            lines.append("")
    return lines


def throttle_mode_lines(scenario: str, rec: dict, path: Path) -> list[str]:
    """Throttling the job does not cause: bench/throttle.py's --random-throttle and
    --app-load runs, each repeat a row."""
    r = rec["result"]
    if "run" not in r:
        return [f"### {scenario} (`{rel(path)}`)", "",
                f"exit code {r.get('exit_code')}: no figures (see the record)", ""]
    p, run = r["parameters"], r["run"]
    quick = "; quick mode" if rec["parameters"].get("quick") else ""
    where = (f"`{rel(path)}` (figures from `{r['record']}`); commit "
             f"{rec['environment']['git']['commit'][:7]}{quick}")
    if scenario == "random_throttle":
        m = run["random"]
        lines = [f"### Throttling the job does not cause: {p['random_throttle']:.0%} of requests "
                 f"throttled at random, {p['docs']:,} documents", "", where, "",
                 "| repeat | copy s unthrottled | copy s throttled | pacing wait s | "
                 "back-off s |", "|---:|---:|---:|---:|---:|"]
        for i, (u, t) in enumerate(zip(m["runs"]["unthrottled"], m["runs"]["random"]), 1):
            c = t["cosmocopy"]
            lines.append(f"| {i} | {u['copy_seconds']:.1f} | {t['copy_seconds']:.1f} "
                         f"| {c['pacing_wait_seconds']:.1f} | {c['retry_wait_seconds']:.1f} |")
        lines += ["", f"Median ratio {m['ratio']:.2f} (target: at most 3).", ""]
        return lines
    m = run["app_load"]
    lines = [f"### Throttling the job does not cause: an application at {p['app_load']} of "
             f"{m['budget']['ru_per_second']:,} RU/s, {p['app_period']:g} s each, "
             f"{p['docs']:,} documents", "", where, "",
             "| repeat | job's share of what the application left | while streaming "
             "| of what it could spend | application throttled "
             "| application got of what it asked, while streaming | job throttled |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for i, x in enumerate(m["runs"], 1):
        a = x["app_load"]
        lines.append(f"| {i} | {fmt(a['job_share_of_left'], '.2f')} "
                     f"| {fmt(a['job_share_of_left_streaming'], '.2f')} "
                     f"| {fmt(a.get('job_share_of_spendable'), '.2f')} "
                     f"| {a['app_throttled']} of {a['app_requests']} "
                     f"| {fmt(a.get('app_share_of_asked_streaming'), '.2f')} "
                     f"| {x['throttled_fraction']:.1%} |")
    return lines + ["", "Target: at least 0.9 of what the application leaves. The application "
                    "asks for its level of the budget in every second; what it got of that is "
                    "the other side of the job's share (a job that crowds it out is left more).",
                    ""]


def dask_lines(rec: dict, path: Path) -> list[str]:
    """The Dask scenario: bench/dask_scale.py's rows, the same job on 1, 2, ... workers."""
    r = rec["result"]
    if "skipped" in r:
        return [f"### Dask (`{rel(path)}`)", "", "skipped: " + r["skipped"], ""]
    if "rows" not in r:
        return [f"### Dask (`{rel(path)}`)", "",
                f"exit code {r.get('exit_code')}: no figures (see the record)", ""]
    p = r["parameters"]
    lines = [f"### Dask: {p['docs']:,} documents of ~{p['doc_size'] // 1024} KB, "
             f"{p['threads_per_worker']} thread per worker", "",
             f"`{rel(path)}` (figures from `{r['record']}`); budget {p['ru']:,} RU/s through "
             f"the Cosmos proxy; commit {rec['environment']['git']['commit'][:7]}"
             + ("; quick mode" if rec["parameters"].get("quick") else ""), "",
             "| workers | docs/s unlimited | docs/s at the budget | RU utilisation | throttled "
             "| content |", "|---:|---:|---:|---:|---:|---|"]
    for row in r["rows"]:
        u, bud = row["unlimited"], row["budget"]
        ok = u["content_check"]["ok"] and bud["content_check"]["ok"]
        lines.append(f"| {row['workers']} | {fmt(u.get('documents_per_second'), ',.0f')} "
                     f"| {fmt(bud.get('documents_per_second'), ',.0f')} "
                     f"| {fmt(bud.get('ru_utilisation'), '.2f')} "
                     f"| {fmt(bud.get('throttled_fraction'), '.1%')} "
                     f"| {'ok' if ok else '**differs**'} |")
    return lines + [""]


def utilisation_cell(m: dict) -> str:
    """RU utilisation over the copy phase, and over the budget the job could spend (without
    what was lost while every worker waited on FerretDB: bench/throttle.py's proxy_fields)."""
    cell = fmt(m.get("utilisation"), ".2f")
    if m.get("utilisation_spendable") is not None:
        cell += f" ({m['utilisation_spendable']:.2f} of the spendable)"
    return cell


def plots(records: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    bars = [(s, ds_name, ds) for s in ("folder", "blob", "replicate", "restore", "throttled")
            if s in records for ds_name, ds in records[s][0]["result"].items()]
    if bars:
        fig, axes = plt.subplots(len(bars), 1, figsize=(8, 1.2 + 0.45 * sum(
            len(ds["candidates"]) for _, _, ds in bars)), squeeze=False)
        for ax, (s, ds_name, ds) in zip(axes[:, 0], bars):
            names = [n for n, c in ds["candidates"].items() if c["median"]]
            vals = [ds["candidates"][n]["median"]["cpu_seconds_per_gb"] for n in names]
            marg = [ds["candidates"][n].get("marginal_cpu_seconds_per_gb") for n in names]
            y = range(len(names))
            ax.barh([i + 0.2 for i in y], vals, height=0.4, label="CPU s/GB")
            if any(v is not None for v in marg):
                ax.barh([i - 0.2 for i in y], [v or 0 for v in marg], height=0.4,
                        label="per extra GB")
                ax.legend(fontsize=7, loc="lower right")
            ax.set_yticks(list(y), names, fontsize=8)
            ax.invert_yaxis()
            ax.set_title(f"{s}: {ds_name}", fontsize=9)
            ax.set_xlabel("client CPU seconds per GB of BSON", fontsize=8)
        fig.tight_layout()
        path = out_dir / "cpu_per_gb.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)
    if "throttled" in records:
        rec = records["throttled"][0]
        for ds_name, ds in rec["result"].items():
            cands = [(n, c["repeats"][0]) for n, c in ds["candidates"].items()]
            fig, axes = plt.subplots(len(cands), 1, figsize=(8, 2.0 * len(cands)),
                                     sharex=True, squeeze=False)
            for ax, (name, r) in zip(axes[:, 0], cands):
                # [second, RU, requests, throttled]; seconds without requests are absent
                dense: dict[int, list[float]] = {}
                for x in r["timeline"]:
                    d = dense.setdefault(int(x[0]), [0.0, 0.0])
                    d[0] += x[1]
                    d[1] += x[3]
                t = list(range(max(dense, default=0) + 1))
                ru = [dense.get(i, [0.0, 0.0])[0] for i in t]
                thr = [dense.get(i, [0.0, 0.0])[1] for i in t]
                ax.step(t, ru, where="post", label="RU charged per second", color="tab:blue",
                        lw=0.8)
                ax.axhline(ds["budget_ru_per_second"], color="grey", ls="--", lw=0.8,
                           label="budget")
                ax2 = ax.twinx()
                ax2.bar(t, thr, color="tab:red", alpha=0.6, width=1.0,
                        label="throttled requests")
                ax2.set_ylabel("throttled/s", fontsize=7)
                ax2.set_ylim(bottom=0, top=max(thr + [1]) * 1.1)
                ax.set_ylim(bottom=0)
                ax.set_ylabel("RU/s", fontsize=7)
                ax.set_title(f"{name}, its first repeat: utilisation {utilisation_cell(r)}, "
                             f"throttled {r['throttled_fraction']:.1%}", fontsize=9)
                ax.legend(fontsize=7, loc="upper left")
            axes[-1, 0].set_xlabel("seconds since the proxy started")
            fig.tight_layout()
            path = out_dir / "throttled.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            made.append(path)
    return made


def report(results_dir: Path = RESULTS_DIR, docs_dir: Path = DOCS_DIR,
           readme: Path | None = README) -> Path:
    """docs/bench/latest.md and the plots from the newest records; the table into README."""
    records = latest_records(results_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    made = plots(records, docs_dir)
    table = table_lines(records)
    body = ["<!-- generated by `./run bench report` (bench/harness.py); do not edit -->", "",
            *table]
    body += [f"![{p.stem}]({p.name})" for p in made] + [""]
    latest = docs_dir / "latest.md"
    latest.write_text("\n".join(body))
    if readme is not None and readme.exists():
        text = readme.read_text()
        if MARK_BEGIN in text and MARK_END in text:
            head, rest = text.split(MARK_BEGIN, 1)
            _, tail = rest.split(MARK_END, 1)
            where = docs_dir.relative_to(readme.parent)
            inner = [t.replace("### ", "#### ") for t in table]
            inner += [f"![{p.stem}]({where / p.name})" for p in made]
            readme.write_text(head + MARK_BEGIN + "\n" + "\n".join(inner) + "\n" + MARK_END
                              + tail)
    log(f"report: {rel(latest)}, "
        f"{len(made)} plot(s)")
    return latest


# -------------------------------------------------------------------- main
def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(prog="./run bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("action", nargs="?", choices=("run", "report"), default="run",
                   help="run the scenarios (then report), or only make the report again")
    p.add_argument("--quick", action="store_true",
                   help=f"small and fast: --docs {QUICK['docs']}, --doc-sizes 1024, --repeat 1, "
                        f"--ru {QUICK['ru']} unless given")
    p.add_argument("--scenarios", type=lambda s: s.split(","), default=list(SCENARIOS),
                   help=f"comma-separated, in order, from {','.join(SCENARIOS)}")
    p.add_argument("--candidates", type=lambda s: s.split(","),
                   help="comma-separated candidates instead of each scenario's own list; "
                        "each must belong to every scenario given (folder and blob: "
                        "cosmocopy_none, baseline_savvy_zstd, ...; folder also drain, "
                        "mongodump_none, mongodump_gzip; replicate: "
                        "cosmocopy_replicate, ...; restore: cosmocopy_restore, mongorestore; "
                        "throttled: cosmocopy_adaptive, cosmocopy_max_ru, baseline_savvy, "
                        "baseline_usual)")
    p.add_argument("--docs", type=int, help="documents of the ~1 KB collection (default 20,000); "
                   "every other size gets the same BSON bytes in fewer documents")
    p.add_argument("--doc-sizes", type=lambda s: [int(x) for x in s.split(",")],
                   help="approximate document sizes, one collection each (default 1024,16384)")
    p.add_argument("--days", type=int, default=8, help="days the ObjectIds are spread over")
    p.add_argument("--step", type=parse_step, default=parse_step("2d"), help="window length")
    p.add_argument("--parallel", type=int, default=2, help="windows at once, every candidate")
    p.add_argument("--batch-size", type=int, default=1000, help="documents per batch")
    p.add_argument("--repeat", type=int, help="alternations of the candidates (default 2)")
    p.add_argument("--ru", type=int, help="RU/s budget of the throttled scenario (default 150: FerretDB here serves about 250 RU/s unthrottled, so the budget binds)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                   help="where the records go (and the report reads)")
    p.add_argument("--docs-dir", type=Path, default=DOCS_DIR,
                   help="where latest.md and the plots go")
    p.add_argument("--no-report", action="store_true",
                   help="write the records only: no latest.md, plots or README update")
    args = p.parse_args(argv)
    q = args.quick
    defaults = {"docs": 20_000, "doc_sizes": [1024, 16384], "repeat": 2, "ru": 150}
    for name, default in defaults.items():  # 0 is given, and refused below, not a default
        if getattr(args, name) is None:
            setattr(args, name, QUICK[name] if q else default)
    bad = [s or "''" for s in args.scenarios if s not in SCENARIOS]
    if bad:
        p.error(f"--scenarios: unknown {','.join(bad)} (expected {','.join(SCENARIOS)})")
    if args.candidates is not None:
        with_candidates = [s for s in args.scenarios if s in CANDIDATES]
        if not with_candidates:
            p.error("--candidates: the scenarios given (" + ",".join(args.scenarios)
                    + ") have no candidates to choose")
        for scenario in with_candidates:
            bad = [c or "''" for c in args.candidates if c not in CANDIDATES[scenario]]
            if bad:
                p.error(f"--candidates: {','.join(bad)} not a candidate of scenario "
                        f"{scenario} (expected some of {','.join(CANDIDATES[scenario])})")
    require_at_least_one(p, args, "docs", "doc_sizes", "repeat", "days", "parallel",
                         "batch_size", "ru")
    windows = -(-args.days * 86400 // args.step)
    if windows // 2 < args.parallel:
        p.error(f"--days / --step gives {windows} windows: the half range ({windows // 2}) "
                f"must hold at least --parallel ({args.parallel}) windows")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.action == "report":
        report(args.results_dir, args.docs_dir,
               README if (args.results_dir, args.docs_dir) == (RESULTS_DIR, DOCS_DIR) else None)
        return 0
    for binary in (COSMOCOPY, DRAIN):
        if not os.access(binary, os.X_OK):
            print(f"bench: {binary} not found; build first (./run build)", file=sys.stderr)
            return 2
    env = environment()
    env["mongodump"] = version_of(tool("mongodump")) if tool("mongodump").exists() else None
    end = (int(time.time()) - SETTLED) // args.step * args.step
    rng = Range(end - args.days * 86400, end, args.step)
    total_bytes = args.docs * 1024
    failed = False
    with FerretDB() as fdb, fdb.client() as client:
        b = Bench(args, fdb, client)
        b.datasets = []
        for size in args.doc_sizes:
            name = "docs" if size == 1024 else f"docs{size // 1024}k"
            ds = Dataset(name, size, max(total_bytes // size, 1), rng)
            seconds = load_dataset(client, ds)
            log(f"loaded {ds.name}: {ds.docs:,} documents, "
                f"{ds.expected['full']['bytes'] / MB:.1f} MB of BSON in {seconds:.1f} s")
            b.datasets.append(ds)
        for scenario in args.scenarios:
            started = dt.datetime.now(dt.timezone.utc)
            args.scenario_now = scenario
            log(f"scenario {scenario}")
            try:
                result = RUNNERS[scenario](b)
            except CheckError as e:
                log(f"scenario {scenario}: {e}")
                failed = True
                continue
            # dask_scale.py and throttle.py check their own copies and exit 1 when one differs
            ok = (result.get("exit_code", 0) == 0) if scenario in SUBPROCESS_SCENARIOS \
                else content_ok(result)
            failed |= not ok
            record = {
                "harness": 1,
                "scenario": scenario,
                "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "parameters": {k: v for k, v in vars(args).items()
                               if k not in ("results_dir", "docs_dir", "scenario_now",
                                            "action")},
                "datasets": [{"name": d.name, "doc_size": d.doc_size, "documents": d.docs,
                              "bytes": d.expected["full"]["bytes"], "range": d.rng.args(),
                              "windows": d.rng.windows, "expected": d.expected}
                             for d in b.datasets],
                "environment": env,
                "result": result,
                "content_ok": ok,
            }
            args.results_dir.mkdir(parents=True, exist_ok=True)
            path = args.results_dir / f"{scenario}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
            path.write_text(json.dumps(record, indent=1, default=str) + "\n")
            log(f"record saved to {path}" + ("" if ok else " (CONTENT DIFFERS)"))
    if not args.no_report:  # README's section only from the default places
        report(args.results_dir, args.docs_dir,
               README if (args.results_dir, args.docs_dir) == (RESULTS_DIR, DOCS_DIR) else None)
    if failed:
        print("bench: at least one copy differs from the source (content_check in the "
              "records)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""cosmocopy benchmarks: end-to-end scenarios that print one JSON record each.

    ./run bench                                   # backup_folder, 200,000 documents
    ./run bench --docs 20000 --repeat 1           # a quick smoke run
    ./run bench --compress-all                    # none, gzip and zstd in one run
    ./run bench --sizes 100000,1000000 --repeat 1 # does peak RSS grow with size?
    ./run bench --python                          # the Python package against the command

Scenario ``backup_folder`` loads a collection into a private FerretDB, then
alternates two candidates over the same windows, ``--repeat`` times: the raw
drain (``build/ccopy_bench_drain``: libmongoc cursors that only iterate) and
``build/cosmocopy backup`` into a fresh folder. With ``--python`` a third one,
``cosmocopy.backup(...)`` of the Python package (bench/py_backup.py) with the
same options, follows the command. The kernel measures each child
(``wait4``, in bench/spawn.py): wall time, user and system CPU, peak RSS. Every
cosmocopy folder is checked against the source; a failed check exits with
status 1 and saves nothing. bench/README.md explains how to read the record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import platform
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice, zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

import bson  # noqa: E402  (pymongo's bson, from the project's .venv)
import bson.errors  # noqa: E402
import pymongo  # noqa: E402
import zstandard  # noqa: E402
from bson.codec_options import CodecOptions  # noqa: E402
from bson.raw_bson import RawBSONDocument  # noqa: E402

import datagen  # noqa: E402
from ferretdb import FerretDB, binary_path as ferretdb_binary  # noqa: E402

COSMOCOPY = REPO / "build" / "cosmocopy"
DRAIN = REPO / "build" / "ccopy_bench_drain"
SPAWN = REPO / "bench" / "spawn.py"
PY_BACKUP = REPO / "bench" / "py_backup.py"
PY_TREE = REPO / "build" / "python"   # the package's development tree (./run build)
RESULTS_DIR = REPO / "bench" / "results"

DB, COLLECTION = "bench", "docs"
COMPRESSIONS = ("none", "gzip", "zstd")
LOAD_BATCH = 2000       # documents per insert_many
SETTLED = 3600          # the newest ObjectId is at least this many seconds old
HEARTBEAT = 30.0        # seconds between "still running" lines
# FerretDB answers a window's first batch only after scanning and sorting the whole collection;
# with 1,000,000 documents that takes longer than libmongoc's default 5-minute socket timeout.
# Both candidates get the same connection string, so the same timeout.
SOCKET_TIMEOUT_MS = 3_600_000
MB = 1e6                # throughput and memory are reported in MB = 10^6 bytes
GB = 1e9

_T0 = time.monotonic()


class CheckError(Exception):
    """The backup does not hold exactly what the source holds."""


def log(msg: str) -> None:
    """A progress line on stderr, stamped with the seconds since start."""
    print(f"[bench {time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------- environment
def parse_step(text: str) -> int:
    """Seconds in a duration written as cosmocopy takes it: 30s, 5m, 4h, 2d."""
    m = re.fullmatch(r"([1-9][0-9]*)([smhd])", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (expected e.g. 30m, 4h, 2d)")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / MB)
    return 0


def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    # the records and report a run writes are not the code it measured: a run after another
    # one that left its record uncommitted is not a dirty build
    changed = git("status", "--porcelain", "--", ".", ":(exclude)bench/results",
                  ":(exclude)docs/bench")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changed)}


def binary_digests() -> dict:
    """SHA-256 (first 16 hex digits) of the binaries under test, to tell builds apart and to
    notice a rebuild in the middle of a run."""
    files = [COSMOCOPY, DRAIN, *sorted(COSMOCOPY.parent.glob("libcosmocopy.so.*.*.*")),
             *sorted(PY_TREE.glob("cosmocopy/_native/_engine*.so"))]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files}


def version_of(binary: Path) -> str:
    """The version a binary prints with --version (FerretDB: its "version: v..." line)."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    return next((line.split(":", 1)[1].strip() for line in out.splitlines()
                 if line.startswith("version:")), out.strip())


def environment() -> dict:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "mem_total_mb": mem_total_mb(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pymongo": pymongo.version,
        "ferretdb": version_of(ferretdb_binary()),
        "cosmocopy": version_of(COSMOCOPY),
        "git": git_state(),
        "binaries": binary_digests(),
    }


# ---------------------------------------------------------------------- load
def load(coll, count: int, start: int, end: int, doc_size: int) -> float:
    """Insert ``count`` documents with ObjectId times spread over [start, end),
    LOAD_BATCH at a time; returns the seconds it took. Every batch is
    acknowledged in full or raises, so afterwards the server holds ``count``
    documents (counting them again would cost FerretDB one more full scan)."""
    docs = datagen.iter_spread(start, end, count, doc_size=doc_size, seed=0)
    t0 = time.monotonic()
    done, next_report = 0, count // 10
    while batch := list(islice(docs, LOAD_BATCH)):
        coll.insert_many(batch, ordered=False)
        done += len(batch)
        if done >= next_report:
            log(f"loaded {done:,}/{count:,} documents ({time.monotonic() - t0:.0f} s)")
            next_report += max(count // 10, 1)
    return time.monotonic() - t0


# ----------------------------------------------------------------- measuring
def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the server process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_measured(argv: list[str], label: str, server_pid: int) -> dict:
    """Run ``argv`` through bench/spawn.py (which measures it with ``wait4``)
    and return its stdout, wall seconds, CPU seconds and peak RSS, and the
    server's and the rest of the machine's CPU seconds meanwhile. Prints a
    line every HEARTBEAT seconds so a long run shows it is alive."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="ccopy-bench-", suffix=".json") as report:
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        launcher = [sys.executable, "-I", "-S", str(SPAWN), report.name, *argv]
        server0, machine0 = server_cpu_seconds(server_pid), machine_busy_seconds()
        t0 = time.monotonic()
        pid = os.posix_spawn(sys.executable, launcher, os.environ, file_actions=actions)
        pidfd = os.pidfd_open(pid)
        try:
            while not select.select([pidfd], [], [], HEARTBEAT)[0]:
                log(f"  {label}: still running ({time.monotonic() - t0:.0f} s)")
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(pidfd)
        server = server_cpu_seconds(server_pid) - server0
        machine = machine_busy_seconds() - machine0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
        measured = json.loads(report.read() or "null") if status == 0 else None
    if not measured or measured["exit_code"] != 0:
        raise RuntimeError(f"{label} failed: {' '.join(argv)}\n{stderr[-3000:]}")
    client = measured["cpu_user_seconds"] + measured["cpu_sys_seconds"]
    return {
        "stdout": stdout,
        "wall_seconds": measured["wall_seconds"],
        "cpu_user_seconds": measured["cpu_user_seconds"],
        "cpu_sys_seconds": measured["cpu_sys_seconds"],
        "peak_rss_mb": measured["peak_rss_kib"] * 1024 / MB,  # ru_maxrss is in KiB on Linux
        "rss_floor_mb": measured["rss_floor_kib"] * 1024 / MB,
        "server_cpu_seconds": server,
        "other_cpu_seconds": max(machine - server - client, 0.0),
    }


def metrics(documents: int, nbytes: int, m: dict) -> dict:
    """The numbers one repeat of a candidate contributes to the record."""
    cpu = m["cpu_user_seconds"] + m["cpu_sys_seconds"]
    return {
        "documents": documents,
        "bytes": nbytes,
        "docs_per_second": documents / m["wall_seconds"],
        "mb_per_second": nbytes / MB / m["wall_seconds"],
        "wall_seconds": m["wall_seconds"],
        "cpu_seconds": cpu,
        "cpu_user_seconds": m["cpu_user_seconds"],
        "cpu_sys_seconds": m["cpu_sys_seconds"],
        "cpu_seconds_per_gb": cpu / (nbytes / GB) if nbytes else None,
        "peak_rss_mb": m["peak_rss_mb"],
        "rss_floor_mb": m["rss_floor_mb"],
        "server_cpu_seconds": m["server_cpu_seconds"],
        "other_cpu_seconds": m["other_cpu_seconds"],
    }


def median_of(repeats: list[dict]) -> dict:
    """Per-metric median over the repeats (numbers only)."""
    return {key: statistics.median(r[key] for r in repeats)
            for key, value in repeats[0].items() if isinstance(value, (int, float))}


# ---------------------------------------------------------------- candidates
class Range:
    """The windows both candidates read: [start, end) cut every ``step`` seconds."""

    def __init__(self, start: int, end: int, step: int):
        self.start = start // step * step
        self.end = -(-end // step) * step
        self.step = step
        self.windows = (self.end - self.start) // step

    def args(self) -> list[str]:
        return [f"@{self.start}", f"@{self.end}", f"{self.step}s"]


def run_drain(uri: str, rng: Range, args, server_pid: int) -> dict:
    frm, to, step = rng.args()
    m = run_measured([str(DRAIN), uri, DB, COLLECTION, frm, to, step, str(args.parallel),
                      str(args.batch_size)], "drain", server_pid)
    out = json.loads(m["stdout"])
    result = metrics(out["documents"], out["bytes"], m)
    result["self_reported_seconds"] = out["seconds"]
    return result


def cosmocopy_argv(uri: str, rng: Range, args, compress: str, folder: Path | str) -> list[str]:
    """``cosmocopy backup`` of the windows of ``rng`` into ``folder`` (a Path, or a destination
    as ``--to`` takes it, e.g. ``azblob://C/P``), with ``args.parallel`` and
    ``args.batch_size``, printing only its JSON summary."""
    frm, to, step = rng.args()
    dest = folder if isinstance(folder, str) else f"dir:{folder}"
    return [str(COSMOCOPY), "backup", "--source", uri, "--db", DB, "--collection", COLLECTION,
            "--to", dest, "--from", frm, "--to", to, "--step", step,
            "--parallel", str(args.parallel), "--batch-size", str(args.batch_size),
            "--compress", compress, "--quiet", "--json"]


def run_cosmocopy(uri: str, rng: Range, args, compress: str, folder: Path | str,
                  server_pid: int, extra: list[str] = ()) -> dict:
    """One backup into ``folder`` (see ``cosmocopy_argv``), with ``extra`` arguments;
    returns its metrics."""
    argv = cosmocopy_argv(uri, rng, args, compress, folder) + list(extra)
    m = run_measured(argv, f"cosmocopy --compress {compress}", server_pid)
    summary = json.loads(m["stdout"])
    if summary["status"] != "ok" or summary["windows_failed"]:
        raise CheckError(f"cosmocopy reported status {summary['status']!r}, "
                         f"{summary['windows_failed']} failed windows: {summary['errors']}")
    result = metrics(summary["documents"], summary["bytes"], m)
    result.update(self_reported_seconds=summary["elapsed_seconds"],
                  stored_bytes=summary["stored_bytes"], retries=summary["retries"],
                  throttle_events=summary["throttle_events"])
    return result


# the command's flags that take a value, as cosmocopy.backup's keyword arguments
_PY_KEYWORDS = {"--source": "source", "--db": "db", "--collection": "collection",
                "--from": "from_", "--step": "step", "--parallel": "parallel",
                "--batch-size": "batch_size", "--compress": "compress"}
_PY_INTS = {"parallel", "batch_size"}
_PY_FLAGS = {"--quiet", "--json"}  # output of the command only: the package prints nothing


def python_kwargs(argv: list[str]) -> dict:
    """``cosmocopy backup`` arguments (``cosmocopy_argv``) as the keyword arguments of
    ``cosmocopy.backup``, so both candidates get the same options by construction: the first
    ``--to`` is the destination (``to``), the second the end of the range (``until``). An
    argument without a translation is an error, not silently dropped."""
    kwargs, i, args = {}, 0, argv[2:]  # past "cosmocopy backup"
    assert argv[1] == "backup"
    while i < len(args):
        flag = args[i]
        if flag in _PY_FLAGS:
            i += 1
            continue
        value = args[i + 1]
        if flag == "--to":
            key = "until" if "to" in kwargs else "to"
        elif flag in _PY_KEYWORDS:
            key = _PY_KEYWORDS[flag]
        else:
            raise ValueError(f"python_kwargs: no keyword for {flag}")
        kwargs[key] = int(value) if key in _PY_INTS else value
        i += 2
    return kwargs


def run_python(uri: str, rng: Range, args, compress: str, folder: Path, server_pid: int) -> dict:
    """One backup into ``folder`` through the Python package (bench/py_backup.py, a child of
    spawn.py like the command), with the keyword arguments of the command's options; returns
    its metrics, like ``run_cosmocopy``."""
    kwargs = python_kwargs(cosmocopy_argv(uri, rng, args, compress, folder))
    m = run_measured([sys.executable, str(PY_BACKUP), "backup", json.dumps(kwargs)],
                     f"python cosmocopy.backup compress={compress}", server_pid)
    summary = json.loads(m["stdout"])
    if summary["status"] != "ok" or summary["windows_failed"]:
        raise CheckError(f"cosmocopy.backup reported status {summary['status']!r}, "
                         f"{summary['windows_failed']} failed windows: {summary['errors']}")
    result = metrics(summary["documents"], summary["bytes"], m)
    result.update(self_reported_seconds=summary["elapsed_seconds"],
                  stored_bytes=summary["stored_bytes"], retries=summary["retries"],
                  throttle_events=summary["throttle_events"])
    return result


STARTUPS = ("command", "python_bare", "python_import")


def run_startup(which: str, server_pid: int) -> dict:
    """A fixed cost, independent of the data: the command starting and exiting
    (``cosmocopy --version``), the interpreter's start alone (``python_bare``), or with
    ``import cosmocopy`` (``python_import``). Wall, CPU and peak RSS as for any candidate."""
    argv = ([str(COSMOCOPY), "--version"] if which == "command" else
            [sys.executable, str(PY_BACKUP), which.removeprefix("python_")])
    m = run_measured(argv, f"start-up {which}", server_pid)
    return {k: m[k] for k in ("wall_seconds", "cpu_user_seconds", "cpu_sys_seconds",
                              "peak_rss_mb", "rss_floor_mb", "server_cpu_seconds",
                              "other_cpu_seconds")} | {
        "cpu_seconds": m["cpu_user_seconds"] + m["cpu_sys_seconds"]}


def generic_kwargs(kwargs: dict) -> dict:
    """The keyword arguments as the record shows them: no port, no temporary path."""
    return kwargs | {"source": "URI", "to": "dir:FOLDER"}


def python_comparison(candidates: dict, startup: dict, compressions: list[str]) -> dict:
    """For each compression: the Python package over the command (medians, and each repeat's
    pair), CPU per GB and wall as ratios and as differences in seconds, and both CPU per GB
    once each one's fixed start-up (measured alone: the interpreter + import cosmocopy, the
    command's --version) is taken out."""
    out = {}
    imp = startup["python_import"]["median"]
    own = startup["command"]["median"]
    for c in compressions:
        cmd, py = candidates[f"cosmocopy_{c}"], candidates[f"cosmocopy_python_{c}"]
        cm, pm = cmd["median"], py["median"]
        gb = pm["bytes"] / GB
        net_cpu = pm["cpu_seconds"] - imp["cpu_seconds"]
        net_cmd = (cm["cpu_seconds"] - own["cpu_seconds"]) / (cm["bytes"] / GB)
        out[f"cosmocopy_python_{c}"] = {
            "command": f"cosmocopy_{c}",
            "cpu_seconds_per_gb": pm["cpu_seconds_per_gb"] / cm["cpu_seconds_per_gb"],
            "wall_seconds": pm["wall_seconds"] / cm["wall_seconds"],
            "docs_per_second": pm["docs_per_second"] / cm["docs_per_second"],
            "cpu_seconds_difference": pm["cpu_seconds"] - cm["cpu_seconds"],
            "wall_seconds_difference": pm["wall_seconds"] - cm["wall_seconds"],
            "peak_rss_mb_difference": pm["peak_rss_mb"] - cm["peak_rss_mb"],
            "net_of_startup": {
                "startup_cpu_seconds": imp["cpu_seconds"],
                "startup_wall_seconds": imp["wall_seconds"],
                "command_startup_cpu_seconds": own["cpu_seconds"],
                "cpu_seconds_per_gb": net_cpu / gb,
                "command_cpu_seconds_per_gb": net_cmd,
                "ratio_cpu_seconds_per_gb": net_cpu / gb / net_cmd,
            },
            "per_repeat": [
                {"cpu_seconds_per_gb": p["cpu_seconds_per_gb"] / q["cpu_seconds_per_gb"],
                 "wall_seconds": p["wall_seconds"] / q["wall_seconds"],
                 "cpu_seconds_difference": p["cpu_seconds"] - q["cpu_seconds"],
                 "wall_seconds_difference": p["wall_seconds"] - q["wall_seconds"]}
                for p, q in zip(py["repeats"], cmd["repeats"])],
        }
    return out


# ------------------------------------------------------------- content check
def read_manifests(folder: Path) -> list[dict]:
    coll_dir = folder / DB / COLLECTION
    return [json.loads(p.read_text()) for p in sorted(coll_dir.glob("*.manifest.json"))]


def check_totals(manifests: list[dict], windows: int, documents: int, nbytes: int) -> None:
    """The manifests cover every window and add up to the source's documents
    and the drain's bytes."""
    docs_sum = sum(m["documents"] for m in manifests)
    bytes_sum = sum(m["bytes"] for m in manifests)
    if len(manifests) != windows or docs_sum != documents or bytes_sum != nbytes:
        raise CheckError(f"folder holds {len(manifests)} windows, {docs_sum:,} documents, "
                         f"{bytes_sum:,} bytes; expected {windows} windows, {documents:,} "
                         f"documents (source) and {nbytes:,} bytes (drain)")


def open_data(path: Path, compression: str):
    """The window's data file as a binary stream of concatenated BSON."""
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "zstd":
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True,
                                                         read_across_frames=True)
        return io.BufferedReader(raw)  # read(n) then returns n bytes unless at the end
    return open(path, "rb")


def check_sample(folder: Path, manifests: list[dict], coll) -> dict:
    """Decode the largest window's data file with pymongo's bson and compare
    every document, byte for byte and in order, with the source's documents of
    that window. Also checks the manifest's size and SHA-256 of the file."""
    m = max(manifests, key=lambda x: x["documents"])
    path = folder / DB / COLLECTION / m["data"]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != m["sha256"] or path.stat().st_size != m["stored_bytes"]:
        raise CheckError(f"{path}: size or SHA-256 differs from its manifest")

    start, end = m["window"]["start_epoch"], m["window"]["end_epoch"]
    lo = bson.ObjectId.from_datetime(dt.datetime.fromtimestamp(start, dt.timezone.utc))
    hi = bson.ObjectId.from_datetime(dt.datetime.fromtimestamp(end, dt.timezone.utc))
    raw = coll.with_options(codec_options=CodecOptions(document_class=RawBSONDocument))
    source = raw.find({"_id": {"$gte": lo, "$lt": hi}}).sort("_id", 1).batch_size(5000)
    compared = 0
    with open_data(path, m["compression"]) as stream:
        backup = bson.decode_file_iter(stream, CodecOptions(document_class=RawBSONDocument))
        try:
            for mine, theirs in zip_longest(backup, source):
                if mine is None or theirs is None:
                    raise CheckError(f"{path}: {'fewer' if mine is None else 'more'} documents "
                                     f"than the source holds in [{m['window']['start']}, "
                                     f"{m['window']['end']}) (equal up to {compared:,})")
                if mine.raw != theirs.raw:
                    raise CheckError(f"{path}: document {compared} (_id {theirs['_id']}) "
                                     f"differs from the source")
                compared += 1
        except bson.errors.InvalidBSON as e:
            raise CheckError(f"{path}: not valid BSON after {compared:,} documents: {e}") from e
    if compared != m["documents"]:
        raise CheckError(f"{path}: {compared:,} documents, manifest says {m['documents']:,}")
    return {"window": m["data"], "documents": compared, "bytes": m["bytes"]}


# ------------------------------------------------------------------ scenario
def backup_folder(args, count: int) -> dict:
    """Load ``count`` documents into a fresh FerretDB and alternate the drain
    and cosmocopy over the same windows. Returns the run's part of the record."""
    step = args.step
    end = (int(time.time()) - SETTLED) // step * step
    rng = Range(end - args.days * 86400, end, step)
    compressions = list(COMPRESSIONS) if args.compress_all else [args.compress]

    with FerretDB() as fdb, fdb.client() as client:
        server_pid = fdb.proc.pid
        uri = f"{fdb.uri}?socketTimeoutMS={SOCKET_TIMEOUT_MS}"
        coll = client[DB][COLLECTION]
        log(f"FerretDB on {fdb.uri}; loading {count:,} documents of ~{args.doc_size} bytes "
            f"over {args.days} days")
        load_seconds = load(coll, count, rng.start, end, args.doc_size)
        log(f"loaded {count:,} documents in {load_seconds:.1f} s "
            f"({count / load_seconds:,.0f} docs/s); {rng.windows} windows of {step} s")

        repeats: dict[str, list[dict]] = {"drain": []}
        for c in compressions:
            repeats[f"cosmocopy_{c}"] = []
            if args.python:
                repeats[f"cosmocopy_python_{c}"] = []
        startup: dict[str, list[dict]] = {which: [] for which in STARTUPS}
        samples = {}
        for r in range(1, args.repeat + 1):
            log(f"repeat {r}/{args.repeat}: drain")
            drain = run_drain(uri, rng, args, server_pid)
            if drain["documents"] != count:
                raise CheckError(f"drain read {drain['documents']:,} documents, "
                                 f"source holds {count:,}")
            repeats["drain"].append(drain)
            log(f"  drain: {drain['docs_per_second']:,.0f} docs/s, {drain['wall_seconds']:.1f} s")
            runs = [(f"cosmocopy_{c}", c, run_cosmocopy, f"cosmocopy --compress {c}")
                    for c in compressions]
            if args.python:  # each compression: the command, then the package
                runs = [x for c, cmd in zip(compressions, runs) for x in (
                    cmd, (f"cosmocopy_python_{c}", c, run_python,
                          f"python cosmocopy.backup(compress={c!r})"))]
            for name, c, run, what in runs:
                log(f"repeat {r}/{args.repeat}: {what}")
                folder = Path(tempfile.mkdtemp(prefix="ccopy-bench-"))
                try:
                    result = run(uri, rng, args, c, folder, server_pid)
                    log(f"  {name}: {result['docs_per_second']:,.0f} docs/s, "
                        f"{result['wall_seconds']:.1f} s; checking the folder")
                    manifests = read_manifests(folder)
                    check_totals(manifests, rng.windows, count, repeats["drain"][0]["bytes"])
                    if name not in samples:
                        samples[name] = check_sample(folder, manifests, coll)
                        log(f"  sample window {samples[name]['window']}: "
                            f"{samples[name]['documents']:,} documents equal to the source")
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                repeats[name].append(result)
            if args.python:
                for which in STARTUPS:
                    startup[which].append(run_startup(which, server_pid))
                log(f"  start-up: command {startup['command'][-1]['cpu_seconds']:.3f} CPU s, "
                    f"python {startup['python_bare'][-1]['cpu_seconds']:.3f} CPU s bare, "
                    f"{startup['python_import'][-1]['cpu_seconds']:.3f} CPU s with import "
                    f"cosmocopy ({startup['python_import'][-1]['wall_seconds']:.3f} s wall)")

    drain_rates = [d["docs_per_second"] for d in repeats["drain"]]
    candidates, ratios = {}, {}
    for name, runs in repeats.items():
        candidates[name] = {"median": median_of(runs), "repeats": runs}
        if name != "drain":
            rates = [x["docs_per_second"] for x in runs]
            ratios[name] = {
                "docs_per_second": statistics.median(rates) / statistics.median(drain_rates),
                "per_repeat": [c / d for c, d in zip(rates, drain_rates)],
            }
    out = {
        "documents": count,
        "load": {"seconds": load_seconds, "docs_per_second": count / load_seconds},
        "range": {"from": rng.args()[0], "to": rng.args()[1], "step_seconds": step,
                  "windows": rng.windows},
        "candidates": candidates,
        "ratio_cosmocopy_to_drain": ratios,
        "content_check": {"ok": True, "samples": samples},
    }
    if args.python:
        out["startup"] = {which: {"median": median_of(runs), "repeats": runs}
                          for which, runs in startup.items()}
        out["python_kwargs"] = generic_kwargs(python_kwargs(
            cosmocopy_argv("URI", rng, args, compressions[0], Path("FOLDER"))))
        out["ratio_python_to_command"] = python_comparison(candidates, out["startup"],
                                                           compressions)
    return out


def rss_growth(runs: list[dict]) -> dict:
    """Each candidate's median peak RSS at each size, and largest/smallest."""
    growth = {}
    for name in runs[0]["candidates"]:
        rss = [run["candidates"][name]["median"]["peak_rss_mb"] for run in runs]
        growth[name] = {"peak_rss_mb": {str(run["documents"]): v for run, v in zip(runs, rss)},
                        "ratio_largest_to_smallest": rss[-1] / rss[0]}
    return growth


def summary_lines(record: dict) -> list[str]:
    """A short human-readable digest of the record."""
    lines = []
    for run in record["runs"]:
        lines.append(f"{run['documents']:,} documents, {run['range']['windows']} windows:")
        for name, cand in run["candidates"].items():
            med = cand["median"]
            ratio = run["ratio_cosmocopy_to_drain"].get(name, {}).get("docs_per_second")
            lines.append(
                f"  {name:22} {med['docs_per_second']:>9,.0f} docs/s {med['mb_per_second']:7.1f} MB/s "
                f"{med['cpu_seconds_per_gb']:6.2f} CPU s/GB {med['peak_rss_mb']:7.1f} MB RSS "
                f"server CPU {med['server_cpu_seconds']:6.1f} s, other {med['other_cpu_seconds']:5.1f} s"
                + (f"  ratio {ratio:.3f}" if ratio is not None else ""))
    for run in record["runs"]:
        if "startup" in run:
            s = {k: v["median"] for k, v in run["startup"].items()}
            lines.append(f"start-up (medians): command {s['command']['cpu_seconds']:.3f} CPU s; "
                         f"python {s['python_bare']['cpu_seconds']:.3f} CPU s, with import "
                         f"cosmocopy {s['python_import']['cpu_seconds']:.3f} CPU s, "
                         f"{s['python_import']['wall_seconds']:.3f} s wall, "
                         f"{s['python_import']['peak_rss_mb']:.1f} MB RSS")
        for name, cmp in run.get("ratio_python_to_command", {}).items():
            net = cmp["net_of_startup"]
            lines.append(
                f"{name} / {cmp['command']}: CPU s/GB x{cmp['cpu_seconds_per_gb']:.3f} "
                f"({cmp['cpu_seconds_difference']:+.3f} CPU s), wall x{cmp['wall_seconds']:.3f} "
                f"({cmp['wall_seconds_difference']:+.2f} s); net of start-up "
                f"{net['cpu_seconds_per_gb']:.2f} against {net['command_cpu_seconds_per_gb']:.2f} "
                f"CPU s/GB, x{net['ratio_cpu_seconds_per_gb']:.3f}")
    for name, g in record.get("rss_growth", {}).items():
        lines.append(f"RSS growth {name}: {g['peak_rss_mb']} ratio {g['ratio_largest_to_smallest']:.2f}")
    return lines


# ---------------------------------------------------------------------- main
def require_at_least_one(p: argparse.ArgumentParser, args, *flags: str) -> None:
    """Exit 2 naming the first of ``flags`` (attribute names) given below 1 (a list: any item);
    None is not given. Every bench script's counts and sizes go through it."""
    for flag in flags:
        value = getattr(args, flag)
        values = value if isinstance(value, list) else [value]
        if value is not None and (not values or min(values) < 1):
            shown = ",".join(map(str, values)) if isinstance(value, list) else value
            p.error(f"--{flag.replace('_', '-')}: must be at least 1, got {shown}")


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(prog="./run bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("scenario", nargs="?", default="backup_folder", choices=["backup_folder"])
    p.add_argument("--docs", type=int, default=200_000, help="documents in the collection")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                   help="comma-separated collection sizes, each run on a fresh collection; "
                        "adds rss_growth to the record (overrides --docs)")
    p.add_argument("--doc-size", type=int, default=1024, help="approximate BSON bytes per document")
    p.add_argument("--days", type=int, default=8, help="days the ObjectIds are spread over")
    p.add_argument("--step", type=parse_step, default=parse_step("2d"),
                   help="window length (30m, 4h, 2d, ...)")
    p.add_argument("--parallel", type=int, default=4, help="windows read at once, both candidates")
    p.add_argument("--batch-size", type=int, default=1000, help="documents per batch, both candidates")
    p.add_argument("--repeat", type=int, default=2, help="alternations of the candidates")
    p.add_argument("--compress", choices=COMPRESSIONS, default="none", help="cosmocopy --compress")
    p.add_argument("--compress-all", action="store_true", help="run cosmocopy with each compression")
    p.add_argument("--python", action="store_true",
                   help="also back up through the Python package (bench/py_backup.py: "
                        "cosmocopy.backup with the command's options, from build/python), right "
                        "after the command, and measure the interpreter's start and "
                        "import cosmocopy alone")
    args = p.parse_args(argv)
    require_at_least_one(p, args, "docs", "sizes", "doc_size", "repeat", "days", "parallel",
                         "batch_size")
    if -(-args.days * 86400 // args.step) < args.parallel:
        # cosmocopy would cut windows into sub-windows to keep every worker busy; the drain
        # does not, and the two would no longer send the same queries.
        p.error("--days / --step gives fewer windows than --parallel")
    return args


def save_record(record: dict, scenario: str, started, lines,
                results_dir: Path = RESULTS_DIR) -> Path:
    """Flag binaries rebuilt during the run, write <results_dir>/<scenario>-<UTC start>.json
    (bench/results by default), log the summary lines and print the record. Shared by every
    scenario."""
    if binary_digests() != record["environment"]["binaries"]:
        record["binaries_changed_during_run"] = True
        log("WARNING: the binaries under test were rebuilt during the run")
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{scenario}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    for line in lines:
        log(line)
    shown = path.relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
    log(f"record saved to {shown}")
    print(json.dumps(record, indent=2))
    return path


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for binary in (COSMOCOPY, DRAIN):
        if not os.access(binary, os.X_OK):
            print(f"bench: {binary} not found; build first (./run build)", file=sys.stderr)
            return 2
    if args.python and not any(PY_TREE.glob("cosmocopy/_native/_engine*.so")):
        print(f"bench: --python: no package in {PY_TREE}; build first (./run build)",
              file=sys.stderr)
        return 2
    sizes = args.sizes or [args.docs]
    started = dt.datetime.now(dt.timezone.utc)
    env = environment()
    runs = []
    try:
        for count in sizes:
            runs.append(backup_folder(args, count))
    except CheckError as e:
        print(f"bench: CONTENT CHECK FAILED: {e}", file=sys.stderr)
        return 1

    record = {
        "scenario": args.scenario,
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {
            "sizes": sizes, "doc_size": args.doc_size, "days": args.days,
            "step_seconds": args.step, "parallel": args.parallel, "batch_size": args.batch_size,
            "repeat": args.repeat, "socket_timeout_ms": SOCKET_TIMEOUT_MS,
            "compress": list(COMPRESSIONS) if args.compress_all else [args.compress],
            "python": args.python,
        },
        "environment": env,
        "runs": runs,
    }
    if len(runs) > 1:
        record["rss_growth"] = rss_growth(runs)
    save_record(record, args.scenario, started, summary_lines(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

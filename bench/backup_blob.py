#!/usr/bin/env python3
"""Scenario ``backup_blob``: the Azure Blob sink against the folder sink, on the same data.

    ./run bench backup_blob                      # 40,000 documents, 2 repeats, + RSS at 160,000 (~10 min)
    ./run bench backup_blob --docs 10000 --repeat 1 --rss-docs 0   # smoke run (~1 min)
    ./run bench backup_blob --help               # every option and its default

A private FerretDB holds ``--docs`` documents (the generator of ``backup_folder``); a private
Azurite 3.35 (tests/support/azurite.py, data on disk in a temporary folder) is the blob
service, on the same cores.

1. For each compression (none, gzip, zstd), ``--repeat`` times: ``cosmocopy backup`` into a
   fresh folder, then the same backup (same range, --step, --parallel, --batch-size) to
   ``azblob://<fresh container>/backup`` with ``--blob-connection-string``. Each run is
   measured by bench/spawn.py (wall, client CPU, peak RSS); FerretDB's and Azurite's CPU from
   /proc. Headline: blob docs/s over folder docs/s per compression (target with zstd: >= 0.8).
2. Content check of every copy: the folder with tests/support/backupcheck.py, the container
   with tests/support/blobcheck.py (azure-storage-blob; manifests, sizes, SHA-256), each
   compared with the source document by document, byte for byte; every blob backup also has
   the windows (names, documents, bytes) of the folder backup of its compression.
3. Peak RSS against window size: the blob candidate with zstd once more with
   ``--block-size --rss-block-size`` (1 MiB), then on a fresh collection of ``--rss-docs``
   documents over the same windows (each window 4x larger by default) with the default and
   the small block size. A failed check exits with status 1 and saves nothing.

The record goes to bench/results/backup_blob-<UTC start>.json; bench/README.md explains it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from run import (COLLECTION, COMPRESSIONS, DB, GB, MB, REPO, SETTLED,  # noqa: E402
                 SOCKET_TIMEOUT_MS, CheckError, Range, environment, load, log, save_record,
                 median_of, parse_step, require_at_least_one, run_cosmocopy, server_cpu_seconds,
                 version_of)
from ferretdb import FerretDB  # noqa: E402  (tests/support is on sys.path via run)
import azure.storage.blob  # noqa: E402
import backupcheck  # noqa: E402
import blobcheck  # noqa: E402
from azurite import Azurite, binary_path as azurite_binary  # noqa: E402

TARGET_RATIO = 0.8              # the target: blob docs/s >= 0.8 x folder docs/s (zstd)
DEFAULT_BLOCK_SIZE = 4 << 20    # cosmocopy's --block-size and --blocks-in-flight defaults
DEFAULT_BLOCKS_IN_FLIGHT = 4
PREFIX = "backup"               # every blob backup goes to azblob://<fresh container>/backup


class Bench:
    """What every measured run needs: the servers, the range, the source's documents."""

    def __init__(self, args, az: Azurite, rng: Range):
        self.args, self.az, self.rng = args, az, rng
        self.containers = 0
        self.uri = self.server_pid = self.source = None

    def block_args(self, block_size: int | None) -> list[str]:
        out = []
        if block_size:
            out += ["--block-size", str(block_size)]
        if self.args.blocks_in_flight:
            out += ["--blocks-in-flight", str(self.args.blocks_in_flight)]
        return out

    def measure(self, sink: str, compress: str, block_size: int | None = None) -> dict:
        """One backup to a fresh folder or container, measured, then checked against the
        source (and removed, for a folder). Azurite's CPU is measured around it and taken out
        of ``other_cpu_seconds``."""
        folder = container = None
        extra: list[str] = []
        if sink == "folder":
            folder = Path(tempfile.mkdtemp(prefix="ccopy-bench-"))
            dest: Path | str = folder
        else:
            self.containers += 1
            container = f"bench-{self.containers:03d}-{compress}"
            self.az.make_container(container)
            dest = f"azblob://{container}/{PREFIX}"
            extra = ["--blob-connection-string", self.az.connection_string,
                     *self.block_args(block_size)]
        try:
            az0 = server_cpu_seconds(self.az.proc.pid)
            result = run_cosmocopy(self.uri, self.rng, self.args, compress, dest,
                                   self.server_pid, extra)
            az = server_cpu_seconds(self.az.proc.pid) - az0
            result["azurite_cpu_seconds"] = az
            result["azurite_cpu_seconds_per_gb"] = az / (result["bytes"] / GB)
            result["other_cpu_seconds"] = max(result["other_cpu_seconds"] - az, 0.0)
            if sink == "folder":
                backup = backupcheck.read_backup(folder)
            else:
                result["container"] = container
                client = self.az.service_client().get_container_client(container)
                backup = blobcheck.read_blob_backup(client, PREFIX)
            result["content_check"] = check(backup, self.source, self.rng.windows,
                                            f"{sink} --compress {compress}")
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        block = f" --block-size {block_size}" if block_size else ""
        log(f"  {sink} {compress}{block}: {result['docs_per_second']:,.0f} docs/s, "
            f"{result['mb_per_second']:.2f} MB/s, {result['cpu_seconds_per_gb']:.1f} CPU s/GB, "
            f"{result['peak_rss_mb']:.1f} MB RSS, Azurite {az:.1f} CPU s; content ok")
        return result


def check(backup: backupcheck.Backup, source: dict[bytes, bytes], windows: int,
          label: str) -> dict:
    """The backup holds exactly the source's documents, byte for byte, in ``windows``
    windows (backupcheck has already checked every manifest's sizes and SHA-256). Returns
    the windows' fingerprints, to compare a blob backup with the folder one."""
    try:
        backupcheck.assert_same_docs(backup.docs(DB, COLLECTION), source, label)
    except AssertionError as e:
        raise CheckError(str(e)) from None
    ws = backup.windows_of(DB, COLLECTION)
    if len(ws) != windows or any(w.kind != "window" for w in ws):
        raise CheckError(f"{label}: {len(ws)} manifests, expected {windows} windows")
    return {
        "ok": True,
        "documents": sum(len(w.docs) for w in ws),
        "windows": {w.manifest_path.name: {k: w.manifest[k] for k in
                                           ("documents", "bytes", "stored_bytes", "sha256")}
                    for w in ws},
    }


def same_windows(blob: dict, folder: dict, label: str) -> bool:
    """The blob backup has the folder backup's windows with the same documents and bytes;
    returns whether the stored objects are identical too (same SHA-256)."""
    b, f = blob["content_check"]["windows"], folder["content_check"]["windows"]
    strip = {n: (w["documents"], w["bytes"]) for n, w in b.items()}
    if strip != {n: (w["documents"], w["bytes"]) for n, w in f.items()}:
        raise CheckError(f"{label}: the blob backup's windows differ from the folder's: "
                         f"{sorted(strip.items())} vs {sorted(f.items())}")
    return all(b[n]["sha256"] == f[n]["sha256"] for n in b)


def summarize(runs: list[dict]) -> dict:
    return {"median": median_of(runs), "repeats": runs}


def load_source(fdb, client, args, rng: Range, count: int, end: int) -> tuple[float, dict]:
    coll = client[DB][COLLECTION]
    log(f"FerretDB on {fdb.uri}; loading {count:,} documents of ~{args.doc_size} bytes "
        f"over {args.days} days ({rng.windows} windows)")
    seconds = load(coll, count, rng.start, end, args.doc_size)
    source = backupcheck.source_docs(coll)
    if len(source) != count:
        raise CheckError(f"source holds {len(source):,} documents, loaded {count:,}")
    log(f"loaded in {seconds:.1f} s ({count / seconds:,.0f} docs/s)")
    return seconds, source


def comparison(bench: Bench, args) -> dict:
    """Folder and blob alternately, per compression, ``--repeat`` times."""
    runs: dict[str, list[dict]] = {}
    for r in range(1, args.repeat + 1):
        for c in args.compress:
            log(f"repeat {r}/{args.repeat}, --compress {c}: folder")
            folder = bench.measure("folder", c)
            runs.setdefault(f"folder_{c}", []).append(folder)
            log(f"repeat {r}/{args.repeat}, --compress {c}: blob")
            blob = bench.measure("blob", c)
            blob["content_check"]["same_stored_objects_as_folder"] = same_windows(
                blob, runs[f"folder_{c}"][0], f"blob --compress {c}")
            runs.setdefault(f"blob_{c}", []).append(blob)
    candidates = {name: summarize(rs) for name, rs in runs.items()}
    ratios = {}
    for c in args.compress:
        f_rates = [x["docs_per_second"] for x in runs[f"folder_{c}"]]
        b_rates = [x["docs_per_second"] for x in runs[f"blob_{c}"]]
        ratio = statistics.median(b_rates) / statistics.median(f_rates)
        ratios[c] = {"docs_per_second": ratio,
                     "per_repeat": [b / f for b, f in zip(b_rates, f_rates)],
                     "cpu_seconds_per_gb": (candidates[f"blob_{c}"]["median"]["cpu_seconds_per_gb"]
                                            / candidates[f"folder_{c}"]["median"]["cpu_seconds_per_gb"]),
                     "peak_rss_mb": (candidates[f"blob_{c}"]["median"]["peak_rss_mb"]
                                     - candidates[f"folder_{c}"]["median"]["peak_rss_mb"])}
        ratios[c]["meets_target"] = ratio >= TARGET_RATIO if c == "zstd" else None
    return {"candidates": candidates, "ratio_blob_to_folder": ratios}


def largest_window_mb(result: dict) -> float:
    return max(w["stored_bytes"] for w in result["content_check"]["windows"].values()) / MB


def scenario(args) -> dict:
    end = (int(time.time()) - SETTLED) // args.step * args.step
    rng = Range(end - args.days * 86400, end, args.step)
    out: dict = {"range": {"from": rng.args()[0], "to": rng.args()[1], "step_seconds": rng.step,
                           "windows": rng.windows}}
    rss_runs: dict[str, dict[int, dict]] = {"blob_zstd": {}, "blob_zstd_small_blocks": {}}
    with Azurite() as az:
        log(f"Azurite on {az.blob_endpoint} (pid {az.proc.pid}), data in {az.data_dir}")
        bench = Bench(args, az, rng)
        sizes = [args.docs] + ([args.rss_docs] if args.rss_docs else [])
        for count in sizes:
            with FerretDB() as fdb, fdb.client() as client:
                bench.uri = f"{fdb.uri}?socketTimeoutMS={SOCKET_TIMEOUT_MS}"
                bench.server_pid = fdb.proc.pid
                load_seconds, bench.source = load_source(fdb, client, args, rng, count, end)
                if count == args.docs:
                    out.update(documents=count, load={"seconds": load_seconds,
                                                      "docs_per_second": count / load_seconds})
                    out.update(comparison(bench, args))
                    if "zstd" in args.compress:
                        rss_runs["blob_zstd"][count] = out["candidates"]["blob_zstd"]
                else:
                    out["rss_load"] = {"documents": count, "seconds": load_seconds,
                                       "docs_per_second": count / load_seconds}
                    log(f"{count:,} documents: blob --compress zstd")
                    rss_runs["blob_zstd"][count] = summarize([bench.measure("blob", "zstd")])
                if args.rss_block_size:
                    log(f"{count:,} documents: blob --compress zstd "
                        f"--block-size {args.rss_block_size}")
                    rss_runs["blob_zstd_small_blocks"][count] = summarize(
                        [bench.measure("blob", "zstd", args.rss_block_size)])
                bench.source = None
        out["azurite_peak_rss_mb"] = azurite_peak_rss_mb(az.proc.pid)
    out["rss_vs_window_size"] = rss_vs_window_size(args, rss_runs)
    return out


def azurite_peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MB
    return 0.0


def rss_vs_window_size(args, rss_runs: dict[str, dict[int, dict]]) -> dict:
    """Peak RSS of the blob candidate (zstd) at each collection size (same windows), with the
    default and the small block size, and what the block settings predict."""
    in_flight = args.blocks_in_flight or DEFAULT_BLOCKS_IN_FLIGHT
    out = {}
    for name, block in (("blob_zstd", args.block_size or DEFAULT_BLOCK_SIZE),
                        ("blob_zstd_small_blocks", args.rss_block_size)):
        by_size = rss_runs[name]
        if not by_size:
            continue
        sizes = sorted(by_size)
        rss = {str(n): by_size[n]["median"]["peak_rss_mb"] for n in sizes}
        out[name] = {
            "block_size": block,
            "blocks_in_flight": in_flight,
            # Each window being written holds at most blocks_in_flight blocks of block_size;
            # a window smaller than that holds only what it is.
            "block_buffers_cap_mb": args.parallel * in_flight * block / MB,
            "largest_window_stored_mb": {str(n): largest_window_mb(by_size[n]["repeats"][0])
                                         for n in sizes},
            "peak_rss_mb": rss,
            "ratio_largest_to_smallest": rss[str(sizes[-1])] / rss[str(sizes[0])],
        }
    return out


# ------------------------------------------------------------------- output
def table(record: dict) -> list[str]:
    run = record["run"]
    lines = [f"{run['documents']:,} documents, {run['range']['windows']} windows, "
             f"--parallel {record['parameters']['parallel']}, medians of "
             f"{record['parameters']['repeat']}:",
             f"  {'candidate':12} {'docs/s':>7} {'MB/s':>6} {'CPU s/GB':>8} {'RSS MB':>7} "
             f"{'stored MB':>9} {'FerretDB s':>10} {'Azurite s':>9} {'other s':>7} {'blob/folder':>11}"]
    for name, cand in run["candidates"].items():
        m = cand["median"]
        ratio = ""
        if name.startswith("blob_"):
            ratio = f"{run['ratio_blob_to_folder'][name[5:]]['docs_per_second']:.3f}"
        lines.append(f"  {name:12} {m['docs_per_second']:7,.0f} {m['mb_per_second']:6.2f} "
                     f"{m['cpu_seconds_per_gb']:8.1f} {m['peak_rss_mb']:7.1f} "
                     f"{m['stored_bytes'] / MB:9.1f} {m['server_cpu_seconds']:10.1f} "
                     f"{m['azurite_cpu_seconds']:9.1f} {m['other_cpu_seconds']:7.1f} {ratio:>11}")
    for name, g in run["rss_vs_window_size"].items():
        sizes = ", ".join(f"{int(n):,} docs (largest window {g['largest_window_stored_mb'][n]:.1f} "
                          f"MB stored): {v:.1f} MB" for n, v in g["peak_rss_mb"].items())
        lines.append(f"  RSS {name} (--block-size {g['block_size']}, cap "
                     f"{g['block_buffers_cap_mb']:.1f} MB of blocks): {sizes}; ratio "
                     f"{g['ratio_largest_to_smallest']:.2f}")
    return lines


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(prog="./run bench backup_blob",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--docs", type=int, default=40_000, help="documents in the compared collection")
    p.add_argument("--rss-docs", type=int, default=160_000,
                   help="documents in the second collection (same windows) for peak RSS against "
                        "window size; 0: skip")
    p.add_argument("--doc-size", type=int, default=1024, help="approximate BSON bytes per document")
    p.add_argument("--days", type=int, default=8, help="days the ObjectIds are spread over")
    p.add_argument("--step", type=parse_step, default=parse_step("2d"), help="window length")
    p.add_argument("--parallel", type=int, default=4, help="windows written at once")
    p.add_argument("--batch-size", type=int, default=1000, help="documents per batch")
    p.add_argument("--repeat", type=int, default=2, help="alternations of folder and blob")
    p.add_argument("--compress", type=lambda s: s.split(","), default=list(COMPRESSIONS),
                   help="comma-separated compressions to compare")
    p.add_argument("--block-size", type=int,
                   help=f"cosmocopy --block-size of the blob runs (default: its own, "
                        f"{DEFAULT_BLOCK_SIZE})")
    p.add_argument("--blocks-in-flight", type=int,
                   help=f"cosmocopy --blocks-in-flight (default: its own, {DEFAULT_BLOCKS_IN_FLIGHT})")
    p.add_argument("--rss-block-size", type=int, default=1 << 20,
                   help="--block-size of the extra zstd blob runs at each size; 0: none")
    args = p.parse_args(argv)
    if any(c not in COMPRESSIONS for c in args.compress):
        p.error(f"--compress takes {', '.join(COMPRESSIONS)}")
    # --block-size, --blocks-in-flight: None is cosmocopy's own default
    require_at_least_one(p, args, "docs", "doc_size", "repeat", "days", "parallel", "batch_size",
                         "block_size", "blocks_in_flight")
    if args.rss_docs and args.rss_docs <= args.docs:
        p.error("--rss-docs must be larger than --docs (or 0)")
    if args.rss_docs and "zstd" not in args.compress:
        p.error("--rss-docs compares with the zstd blob runs: keep zstd in --compress")
    if args.block_size:
        # the extra runs say what peak RSS does with other block settings
        args.rss_block_size = args.rss_block_size if args.rss_block_size != args.block_size else 0
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    env = environment()
    env["azurite"] = version_of(azurite_binary())
    env["azure_storage_blob"] = azure.storage.blob.__version__
    try:
        run = scenario(args)
    except CheckError as e:
        print(f"bench: CONTENT CHECK FAILED: {e}", file=sys.stderr)
        return 1
    record = {
        "scenario": "backup_blob",
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {
            "docs": args.docs, "rss_docs": args.rss_docs, "doc_size": args.doc_size,
            "days": args.days, "step_seconds": args.step, "parallel": args.parallel,
            "batch_size": args.batch_size, "repeat": args.repeat, "compress": args.compress,
            "block_size": args.block_size or DEFAULT_BLOCK_SIZE,
            "blocks_in_flight": args.blocks_in_flight or DEFAULT_BLOCKS_IN_FLIGHT,
            "rss_block_size": args.rss_block_size, "socket_timeout_ms": SOCKET_TIMEOUT_MS,
            "target_ratio_zstd": TARGET_RATIO,
        },
        "environment": env,
        "run": run,
    }
    save_record(record, "backup_blob", started, table(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Scenario ``dask_scale``: one backup across a Dask LocalCluster of 1, 2 and 4 worker processes.

    ./run bench dask_scale                    # 6,000 documents of 1 KB, budget 600 RU/s (~2 min)
    ./run bench dask_scale --workers 1 2 --docs 3000 --ru 300
    ./run bench dask_scale --help

A private FerretDB holds ``--docs`` documents over ``--hours`` hours (one-hour windows, one
collection). For each worker count a fresh LocalCluster (one thread per worker process) runs
``cosmocopy.distributed.backup`` twice into new folders:

1. ``unlimited``: straight from FerretDB, no RU budget: what the cluster's CPUs (and FerretDB)
   give. On a 2-core machine, more than 2 processes only add contention.
2. ``budget``: through tests/support/cosmosproxy.py (in this process) whose bucket is
   ``--ru`` RU/s, with ``max_ru`` the same figure: the budget binds. Reported: RU utilisation
   (RU charged by the proxy / (budget x seconds)) and the throttled fraction (16500 answers /
   charged requests). With RU as the limit, throughput should stay flat as workers are added.

Cluster start-up is not timed; planning on the client is. Every backup is compared with the
source, document by document. The record goes to bench/results/dask_scale-<UTC start>.json
(`--results-dir` elsewhere; the harness passes its own).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from run import (REPO, RESULTS_DIR, CheckError, environment, load, log,  # noqa: E402
                 require_at_least_one, save_record)

sys.path.insert(0, str(REPO / "build" / "python"))
import backupcheck  # noqa: E402  (tests/support, on sys.path via run)
import dask  # noqa: E402
from cosmosproxy import CosmosProxy  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from ferretdb import FerretDB  # noqa: E402

import cosmocopy.distributed as ccd  # noqa: E402

DB, COLLECTION = "bench", "docs"
HOUR = 3600


def one_run(client, folder: Path, uri: str, args, start: int, budget: int | None,
            proxy: CosmosProxy | None, source_db) -> dict:
    if proxy is not None:
        proxy.reset_counters()
    t0 = time.monotonic()
    result = ccd.backup(client, source=uri, db=DB, collection=COLLECTION, to=f"dir:{folder}",
                        from_=start, until=start + args.hours * HOUR, step="1h", parallel=1,
                        batch_size=args.batch_size, max_ru=budget, windows_per_task=args.windows_per_task)
    seconds = time.monotonic() - t0
    try:
        backupcheck.assert_backup_matches(folder, source_db, [COLLECTION])
        check = {"ok": True}
    except AssertionError as e:
        check = {"ok": False, "error": str(e)[:500]}
    out = {
        "seconds": round(seconds, 3),
        "documents": result.documents,
        "bytes": result.bytes,
        "windows": result.windows_written,
        "documents_per_second": round(result.documents / seconds, 1),
        "mb_per_second": round(result.bytes / seconds / 1e6, 3),
        "workers_used": len({w.worker for w in result.windows}),
        "ru_charged_engine": round(result.request_units.charged, 1),
        "content_check": check,
    }
    if proxy is not None:
        c = proxy.counters()
        out.update({
            "budget": budget,
            "ru_charged_proxy": round(c["ru_charged"], 1),
            "ru_utilisation": round(c["ru_charged"] / (budget * seconds), 3) if budget else None,
            "throttled": c["throttled"],
            "charged_requests": c["charged_requests"],
            "throttled_fraction": round(c["throttled"] / max(1, c["charged_requests"]), 4),
        })
    return out


def scenario(args) -> dict:
    server = FerretDB()
    server.start()
    work = Path(tempfile.mkdtemp(prefix="ccopy-dask-bench-"))
    proxy = None
    try:
        import pymongo
        mongo = pymongo.MongoClient(server.uri)
        start = (int(time.time()) // 86400 - 3) * 86400
        log(f"loading {args.docs:,} documents of {args.doc_size} B over {args.hours} h")
        load(mongo[DB][COLLECTION], args.docs, start, start + args.hours * HOUR, args.doc_size)
        proxy = CosmosProxy("127.0.0.1", server.port, ru_per_second=args.ru, burst_seconds=1)
        proxy.start()
        proxy_uri = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
        rows = []
        with dask.config.set(ccd.cluster_config()):
            for n in args.workers:
                log(f"{n} worker process{'es' if n > 1 else ''}: starting the cluster")
                with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", memory_limit="1GiB",
                                  silence_logs=logging.CRITICAL) as cluster, \
                        Client(cluster) as client:
                    client.wait_for_workers(n, timeout=120)
                    free = one_run(client, work / f"free-{n}", server.uri, args, start, None,
                                   None, mongo[DB])
                    log(f"  unlimited: {free['documents_per_second']:,.0f} docs/s "
                        f"({free['seconds']} s)")
                    bound = one_run(client, work / f"budget-{n}", proxy_uri, args, start,
                                    args.ru, proxy, mongo[DB])
                    log(f"  at {args.ru} RU/s: {bound['documents_per_second']:,.0f} docs/s, "
                        f"utilisation {bound['ru_utilisation']}, throttled "
                        f"{bound['throttled_fraction']}")
                    rows.append({"workers": n, "unlimited": free, "budget": bound})
                    shutil.rmtree(work / f"free-{n}", ignore_errors=True)
                    shutil.rmtree(work / f"budget-{n}", ignore_errors=True)
        return {"rows": rows}
    finally:
        if proxy is not None:
            proxy.stop()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def table(record: dict) -> list[str]:
    lines = [f"{'workers':>7} | {'unlimited docs/s':>16} | {'budget docs/s':>13} | "
             f"{'RU utilisation':>14} | {'throttled':>9}"]
    for r in record["run"]["rows"]:
        b = r["budget"]
        lines.append(f"{r['workers']:>7} | {r['unlimited']['documents_per_second']:>16,.0f} | "
                     f"{b['documents_per_second']:>13,.0f} | {b['ru_utilisation']:>14} | "
                     f"{b['throttled_fraction']:>9}")
    return lines


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(prog="./run bench dask_scale", description=__doc__.split("\n")[0])
    p.add_argument("--docs", type=int, default=6000, help="documents (default 6000)")
    p.add_argument("--doc-size", type=int, default=1024, help="bytes per document (default 1024)")
    p.add_argument("--hours", type=int, default=24, help="hours of ObjectIds, 1-hour windows "
                   "(default 24)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4],
                   help="worker process counts (default 1 2 4)")
    p.add_argument("--ru", type=int, default=600, help="RU/s budget of the proxy and of max_ru "
                   "(default 600)")
    p.add_argument("--batch-size", type=int, default=50,
                   help="documents per find/getMore batch (default 50: a request's charge, "
                   "about 26 RU here, stays well under a second of the budget)")
    p.add_argument("--windows-per-task", type=int, default=2,
                   help="windows batched into one Dask task (default 2)")
    p.add_argument("--note", default="", help="a note kept in the record (e.g. machine load)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                   help="where the record goes (default: bench/results)")
    args = p.parse_args(argv)
    require_at_least_one(p, args, "docs", "doc_size", "hours", "workers", "ru", "batch_size",
                         "windows_per_task")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    env = environment()
    try:
        run = scenario(args)
    except CheckError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    record = {
        "scenario": "dask_scale",
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {"docs": args.docs, "doc_size": args.doc_size, "hours": args.hours,
                       "step_seconds": HOUR, "workers": args.workers, "ru": args.ru,
                       "windows_per_task": args.windows_per_task, "threads_per_worker": 1,
                       "batch_size": args.batch_size,
                       "parallel": 1, "note": args.note},
        "environment": env,
        "run": run,
    }
    save_record(record, "dask_scale", started, table(record), args.results_dir)
    ok = all(r[k]["content_check"]["ok"] for r in run["rows"] for k in ("unlimited", "budget"))
    if not ok:
        log("CONTENT CHECK FAILED (see content_check in the record)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

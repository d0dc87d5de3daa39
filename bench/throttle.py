#!/usr/bin/env python3
"""Scenario ``throttle``: cosmocopy against a naive client under a request-unit budget.

    ./run bench throttle                      # 20,000 documents, budget chosen as below (~7 min)
    ./run bench throttle --ru 2000            # force the budget
    ./run bench throttle --help               # every option and its default

A private FerretDB holds ``--docs`` documents; tests/support/cosmosproxy.py, run in its own
process (``--stats-file``) for every measured run, charges request units (RU) as Cosmos DB
does and answers 16500 once its token bucket of ``budget`` RU/s is empty.

1. Unthrottled demand: cosmocopy backs the windows up directly from FerretDB and through the
   proxy with no budget. RU/s through the proxy is what the job would spend if it could; the
   docs/s ratio (proxy / direct) is the proxy's overhead.
2. Budget: ``--ru`` if given; else the issue's 2,000 RU/s if the demand is at least twice
   that; else ``--budget-fraction`` (0.15) of the demand, so that throttling is real and the
   copy lasts long enough (about 90 s) that FerretDB's first-batch scans are a small part.
3. Candidates at that budget, each through a fresh proxy: cosmocopy (adaptive governor),
   cosmocopy ``--max-ru budget``, and bench/naive_copy.py (threads that sleep a fixed pause
   after a 16500 and resend) with each of ``--pauses``.

Every copy is compared with the source, document by document and byte for byte. The record
goes to bench/results/throttle-<UTC start>.json; bench/README.md explains its fields.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bson

from run import (COLLECTION, COSMOCOPY, DB, REPO, SOCKET_TIMEOUT_MS,  # noqa: E402
                 CheckError, Range, cosmocopy_argv, environment, load, log, save_record,
                 parse_step, run_measured, server_cpu_seconds)
from ferretdb import FerretDB  # noqa: E402  (tests/support is on sys.path via run)
import backupcheck  # noqa: E402

PROXY = REPO / "tests" / "support" / "cosmosproxy.py"
NAIVE = REPO / "bench" / "naive_copy.py"
ISSUE_BUDGET = 2000          # RU/s, the issue's example
TARGET_UTILISATION = 0.9     # the issue's targets
TARGET_THROTTLED = 0.05
SETTLED = 3600


# ------------------------------------------------------------------- proxy
class ProxyProcess:
    """cosmosproxy.py in its own process (its own GIL), started for one measured run.
    ``stop()`` returns its counters, per-second timeline and CPU seconds."""

    def __init__(self, upstream_port: int, ru: int | None):
        self.upstream_port, self.ru = upstream_port, ru

    def __enter__(self) -> "ProxyProcess":
        self._stats = Path(tempfile.mkstemp(prefix="ccopy-proxy-", suffix=".json")[1])
        argv = [sys.executable, str(PROXY), "--upstream", f"127.0.0.1:{self.upstream_port}",
                "--stats-file", str(self._stats)]
        if self.ru is not None:
            argv += ["--ru", str(self.ru)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"cosmosproxy did not start: {line!r}")
        self.port = int(m.group(1))
        self._cpu0 = server_cpu_seconds(self.proc.pid)
        return self

    def uri(self) -> str:
        return (f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
                f"&socketTimeoutMS={SOCKET_TIMEOUT_MS}")

    def stop(self) -> dict:
        cpu = server_cpu_seconds(self.proc.pid) - self._cpu0
        self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(30) != 0:
            raise RuntimeError(f"cosmosproxy exited with status {self.proc.returncode}")
        stats = json.loads(self._stats.read_text())
        stats["cpu_seconds"] = cpu
        return stats

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self._stats.unlink(missing_ok=True)


def ru_before(timeline: list[dict], t: float) -> float:
    """RU charged before ``t`` seconds since the proxy started, from its per-second timeline
    (the second that holds ``t`` counts in proportion)."""
    return sum(s["ru"] * min(1.0, max(0.0, t - s["t"])) for s in timeline)


def streaming_utilisation(timeline: list[dict], budget: int | None) -> float | None:
    """Utilisation over the seconds in which documents were flowing: from the first to the
    last second that charged at least a tenth of the budget, both included. FerretDB spends
    the first seconds of every run scanning and sorting the collection for each window's find
    (a Cosmos index serves it at once), and no client can spend RU while it does; this figure
    leaves that out, the copy-phase utilisation keeps it in."""
    if not budget:
        return None
    busy = [i for i, s in enumerate(timeline) if s["ru"] >= 0.1 * budget]
    if not busy:
        return 0.0
    span = timeline[busy[0]:busy[-1] + 1]
    seconds = span[-1]["t"] - span[0]["t"] + 1
    return sum(s["ru"] for s in span) / seconds / budget


def proxy_fields(stats: dict, span: tuple[float, float], budget: int | None) -> dict:
    """What the proxy saw of one run. ``span`` is the run's copy phase (epoch seconds):
    RU/s and utilisation are the RU charged in it over its length. Nothing charged comes
    after the copy phase, so that RU is all of it less what planning cost (a few RU: the
    timeline is per second, too coarse to cut a short run at both ends)."""
    lo, hi = (t - stats["started_at"] for t in span)
    ru_copy = stats["ru_charged"] - ru_before(stats["timeline"], lo)
    charged = stats["charged_requests"]
    streaming = streaming_utilisation(stats["timeline"], budget)
    fields = {
        "ru_charged": stats["ru_charged"],
        "ru_charged_in_copy": ru_copy,
        "ru_per_second": ru_copy / (hi - lo),
        "utilisation": ru_copy / (hi - lo) / budget if budget else None,
        "utilisation_streaming": streaming,
        "requests": stats["requests"],
        "charged_requests": charged,
        "throttled": stats["throttled"],
        "throttled_fraction": stats["throttled"] / charged if charged else 0.0,
        "by_command": stats["by_command"],
        "proxy_cpu_seconds": stats["cpu_seconds"],
        "proxy_elapsed_seconds": stats["elapsed_s"],
        "copy_span_in_timeline": [lo, hi],
        # [second since the proxy started, RU, charged requests, throttled]
        "timeline": [[s["t"], round(s["ru"], 2), s["requests"], s["throttled"]]
                     for s in stats["timeline"]],
    }
    return fields


# -------------------------------------------------------------- candidates

def copy_figures(summary: dict, measured: dict) -> dict:
    """What every candidate reports the same way: documents and bytes copied, wall and copy
    seconds, rates, and CPU of the client, the server and everything else."""
    s, m = summary, measured
    return {
        "documents": s["documents"],
        "bytes": s["bytes"],
        "wall_seconds": m["wall_seconds"],
        "copy_seconds": s["copy_seconds"],
        "docs_per_second": s["documents"] / s["copy_seconds"],
        "docs_per_second_wall": s["documents"] / m["wall_seconds"],
        "client_cpu_seconds": m["cpu_user_seconds"] + m["cpu_sys_seconds"],
        "server_cpu_seconds": m["server_cpu_seconds"],
        "other_cpu_seconds": m["other_cpu_seconds"],
    }

def run_cosmocopy(label: str, uri: str, rng: Range, args, server_pid: int, folder: Path,
                  extra: list[str]) -> tuple[dict, tuple[float, float]]:
    """One cosmocopy backup; its metrics and its copy phase in epoch seconds (time base:
    ``copy_seconds`` of its summary, which leaves out planning)."""
    argv = cosmocopy_argv(uri, rng, args, "none", folder) + extra
    launched = time.time()
    m = run_measured(argv, label, server_pid)
    s = json.loads(m["stdout"])
    if s["status"] != "ok" or s["windows_failed"]:
        raise CheckError(f"{label}: cosmocopy reported status {s['status']!r}, "
                         f"{s['windows_failed']} failed windows: {s['errors']}")
    copy_start = launched + s["planning_seconds"]
    return {
        "argv_extra": extra,
        "time_base": "cosmocopy copy_seconds (summary; planning left out)",
        "planning_seconds": s["planning_seconds"],
        **copy_figures(s, m),
        "cosmocopy": {k: s[k] for k in ("throttle_events", "retries", "retry_wait_seconds",
                                        "pacing_wait_seconds", "request_units",
                                        "elapsed_seconds", "windows_written")},
    }, (copy_start, copy_start + s["copy_seconds"])


def run_naive(label: str, uri: str, rng: Range, args, server_pid: int, folder: Path,
              pause_ms: int) -> tuple[dict, tuple[float, float]]:
    """One bench/naive_copy.py run; time base: its first request to its last reply."""
    argv = [sys.executable, str(NAIVE), "--uri", uri, "--db", DB, "--collection", COLLECTION,
            "--from", str(rng.start), "--to", str(rng.end), "--step", str(rng.step),
            "--out", str(folder), "--threads", str(args.parallel),
            "--batch-size", str(args.batch_size), "--pause-ms", str(pause_ms)]
    m = run_measured(argv, label, server_pid)
    s = json.loads(m["stdout"])
    return {
        "pause_ms": pause_ms,
        "time_base": "first request sent to last reply received (naive_copy.py)",
        **copy_figures(s, m),
        "naive": {k: s[k] for k in ("requests", "throttled", "retry_after_ms")},
    }, (s["first_request"], s["last_reply"])


# ----------------------------------------------------------- content check
def naive_docs(folder: Path) -> dict[bytes, bytes]:
    """The naive client's files as {id_key: raw BSON}; every document in its window, no
    ``_id`` twice."""
    out: dict[bytes, bytes] = {}
    for path in sorted(folder.glob("*.bson")):
        lo, hi = map(int, path.stem.split("_"))
        with open(path, "rb") as f:
            for doc in bson.decode_file_iter(f, backupcheck.RAW):
                key = backupcheck.doc_key(doc)
                if key in out:
                    raise AssertionError(f"{path}: _id {doc['_id']} twice")
                if not lo <= backupcheck.oid_seconds(doc["_id"]) < hi:
                    raise AssertionError(f"{path}: _id {doc['_id']} outside its window")
                out[key] = bytes(doc.raw)
    return out


def content_check(kind: str, folder: Path, source: dict[bytes, bytes]) -> dict:
    """Exactly the source's documents, byte for byte (cosmocopy folders are read with
    tests/support/backupcheck.py, which also checks manifests, sizes and SHA-256)."""
    try:
        docs = (backupcheck.read_backup(folder).docs(DB, COLLECTION) if kind == "cosmocopy"
                else naive_docs(folder))
        backupcheck.assert_same_docs(docs, source, kind)
    except AssertionError as e:
        return {"ok": False, "error": str(e)[:2000]}
    return {"ok": True, "documents": len(docs)}


def measure(label: str, kind: str, upstream_port: int, budget: int | None, through_proxy: bool,
            rng: Range, args, server_pid: int, source: dict, extra) -> dict:
    """One run of a candidate in a fresh folder (and a fresh proxy), checked and removed."""
    folder = Path(tempfile.mkdtemp(prefix="ccopy-throttle-"))
    runner = run_cosmocopy if kind == "cosmocopy" else run_naive
    try:
        if through_proxy:
            with ProxyProcess(upstream_port, budget) as proxy:
                result, span = runner(label, proxy.uri(), rng, args, server_pid, folder, extra)
                result.update(proxy_fields(proxy.stop(), span, budget))
        else:
            uri = (f"mongodb://127.0.0.1:{upstream_port}/?directConnection=true"
                   f"&socketTimeoutMS={SOCKET_TIMEOUT_MS}")
            result, _ = runner(label, uri, rng, args, server_pid, folder, extra)
        result["content_check"] = content_check(kind, folder, source)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    line = (f"  {label}: {result['documents']:,} documents, {result['copy_seconds']:.1f} s copy, "
            f"{result['docs_per_second']:,.0f} docs/s")
    if through_proxy:
        line += (f", {result['ru_per_second']:,.0f} RU/s, throttled "
                 f"{result['throttled']}/{result['charged_requests']}")
        if budget:
            line += f", utilisation {result['utilisation']:.2f}"
    log(line + f", content {'ok' if result['content_check']['ok'] else 'DIFFERS'}")
    return result


def choose_budget(args, demand: float) -> tuple[int, str]:
    if args.ru:
        return args.ru, "forced with --ru"
    if demand >= 2 * ISSUE_BUDGET:
        return ISSUE_BUDGET, (f"the issue's example: unthrottled demand {demand:,.0f} RU/s is at "
                              f"least twice {ISSUE_BUDGET:,}")
    budget = max(1, round(demand * args.budget_fraction))
    return budget, (f"unthrottled demand {demand:,.0f} RU/s is below twice the issue's "
                    f"{ISSUE_BUDGET:,} RU/s (FerretDB is slow), so {args.budget_fraction} of "
                    f"the demand, to make throttling real")


# ---------------------------------------------------------------- scenario
def scenario(args) -> dict:
    end = (int(time.time()) - SETTLED) // args.step * args.step
    rng = Range(end - args.days * 86400, end, args.step)
    with FerretDB() as fdb, fdb.client() as client:
        pid, port = fdb.proc.pid, fdb.port
        coll = client[DB][COLLECTION]
        log(f"FerretDB on {fdb.uri}; loading {args.docs:,} documents of ~{args.doc_size} bytes "
            f"over {args.days} days ({rng.windows} windows)")
        load_seconds = load(coll, args.docs, rng.start, end, args.doc_size)
        source = backupcheck.source_docs(coll)
        if len(source) != args.docs:
            raise CheckError(f"source holds {len(source):,} documents, loaded {args.docs:,}")
        log(f"loaded in {load_seconds:.1f} s")

        def run(label, kind, budget, through_proxy, extra):
            log(label)
            return measure(label, kind, port, budget, through_proxy, rng, args, pid, source,
                           extra)

        unthrottled = {}
        for r in range(1, args.demand_repeat + 1):
            unthrottled.setdefault("direct", []).append(
                run(f"unthrottled {r}: cosmocopy direct", "cosmocopy", None, False, []))
            unthrottled.setdefault("proxy", []).append(
                run(f"unthrottled {r}: cosmocopy through the proxy, no budget", "cosmocopy",
                    None, True, []))
        median = {k: statistics.median(x["docs_per_second"] for x in v)
                  for k, v in unthrottled.items()}
        demand = statistics.median(x["ru_per_second"] for x in unthrottled["proxy"])
        budget, why = choose_budget(args, demand)
        log(f"demand {demand:,.0f} RU/s; proxy overhead ratio (docs/s proxy / direct) "
            f"{median['proxy'] / median['direct']:.3f}; budget {budget:,} RU/s: {why}")

        candidates = {
            "cosmocopy_adaptive": ("cosmocopy", []),
            "cosmocopy_max_ru": ("cosmocopy", ["--max-ru", str(budget)]),
            **{f"naive_{p}ms": ("naive", p) for p in args.pauses},
        }
        results = {name: run(f"{name} at {budget:,} RU/s", kind, budget, True, extra)
                   for name, (kind, extra) in candidates.items()}
        for r in results.values():
            r["meets_target"] = (r["utilisation"] >= TARGET_UTILISATION
                                 and r["throttled_fraction"] <= TARGET_THROTTLED)
            r["meets_target_streaming"] = (r["utilisation_streaming"] >= TARGET_UTILISATION
                                           and r["throttled_fraction"] <= TARGET_THROTTLED)
    return {
        "documents": args.docs,
        "load": {"seconds": load_seconds, "docs_per_second": args.docs / load_seconds},
        "range": {"from": rng.args()[0], "to": rng.args()[1], "step_seconds": rng.step,
                  "windows": rng.windows},
        "unthrottled": {
            "runs": unthrottled,
            "demand_ru_per_second": demand,
            "proxy_overhead_ratio": median["proxy"] / median["direct"],
            "median_docs_per_second": median,
        },
        "budget": {"ru_per_second": budget, "why": why},
        "candidates": results,
    }


def table(record: dict) -> list[str]:
    run = record["run"]
    budget = run["budget"]["ru_per_second"]
    lines = [f"{'candidate':22} {'budget':>7} {'copy s':>7} {'docs/s':>7} {'RU/s':>7} "
             f"{'util':>5} {'stream':>6} {'throttled':>15} {'content':>8}"]

    def row(name, r, b):
        util = f"{r['utilisation']:.2f}" if r.get("utilisation") is not None else "-"
        stream = (f"{r['utilisation_streaming']:.2f}"
                  if r.get("utilisation_streaming") is not None else "-")
        ru = f"{r['ru_per_second']:,.0f}" if "ru_per_second" in r else "-"
        thr = (f"{r['throttled']}/{r['charged_requests']} {r['throttled_fraction']:.1%}"
               if "throttled" in r else "-")
        lines.append(f"{name:22} {b:>7} {r['copy_seconds']:7.1f} {r['docs_per_second']:7,.0f} "
                     f"{ru:>7} {util:>5} {stream:>6} {thr:>15} "
                     f"{'ok' if r['content_check']['ok'] else 'DIFFERS':>8}")

    for kind, runs in run["unthrottled"]["runs"].items():
        for i, r in enumerate(runs, 1):
            row(f"unthrottled_{kind}_{i}", r, "-")
    for name, r in run["candidates"].items():
        row(name, r, f"{budget:,}")
    u = run["unthrottled"]
    lines.append(f"demand {u['demand_ru_per_second']:,.0f} RU/s; proxy overhead ratio "
                 f"{u['proxy_overhead_ratio']:.3f}; budget {budget:,} RU/s ({run['budget']['why']})")
    return lines


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(prog="./run bench throttle", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--docs", type=int, default=20_000, help="documents in the collection")
    p.add_argument("--doc-size", type=int, default=1024, help="approximate BSON bytes per document")
    p.add_argument("--days", type=int, default=4, help="days the ObjectIds are spread over")
    p.add_argument("--step", type=parse_step, default=parse_step("1d"), help="window length")
    p.add_argument("--parallel", type=int, default=4, help="workers (threads), every candidate")
    p.add_argument("--batch-size", type=int, default=100, help="documents per batch, every candidate")
    p.add_argument("--ru", type=int, help="budget in RU/s (default: chosen from the demand)")
    p.add_argument("--budget-fraction", type=float, default=0.15,
                   help="budget as a fraction of the unthrottled demand, when it is chosen")
    p.add_argument("--pauses", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 100],
                   help="comma-separated pauses (ms) of the naive client, one run each")
    p.add_argument("--demand-repeat", type=int, default=1,
                   help="alternations of the unthrottled direct and proxy runs")
    args = p.parse_args(argv)
    if -(-args.days * 86400 // args.step) < args.parallel:
        p.error("--days / --step gives fewer windows than --parallel (cosmocopy would cut "
                "sub-windows, the naive client would not)")
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
        "scenario": "throttle",
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {
            "docs": args.docs, "doc_size": args.doc_size, "days": args.days,
            "step_seconds": args.step, "parallel": args.parallel, "batch_size": args.batch_size,
            "ru": args.ru, "budget_fraction": args.budget_fraction, "pauses_ms": args.pauses,
            "demand_repeat": args.demand_repeat, "socket_timeout_ms": SOCKET_TIMEOUT_MS,
            "issue_budget": ISSUE_BUDGET,
            "targets": {"utilisation_min": TARGET_UTILISATION,
                        "throttled_fraction_max": TARGET_THROTTLED},
        },
        "environment": env,
        "run": run,
    }
    save_record(record, "throttle", started, table(record))
    checks = [r["content_check"]["ok"] for runs in run["unthrottled"]["runs"].values()
              for r in runs] + [r["content_check"]["ok"] for r in run["candidates"].values()]
    if not all(checks):
        log("CONTENT CHECK FAILED for at least one copy (see content_check in the record)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

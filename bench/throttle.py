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

Two more modes measure throttling that the job does not cause (issue 14):

    ./run bench throttle --random-throttle 0.4   # 40% of requests answered 16500 at random
    ./run bench throttle --app-load 0.2,0.6,0.4,0.7 --app-period 10

``--random-throttle F``: no budget; the proxy answers a share F of the charged requests 16500
at random (its ``throttle_rate``), whatever the job's rate. cosmocopy runs through a proxy
without it and through one with it, alternated ``--demand-repeat`` times; the figure is the
ratio of their copy times (target: at most 3), beside the summed pacing waits and back-off.

``--app-load L1,L2,...``: a budget (chosen as above) shared with an application: a thread of
this process reads another collection through the same proxy at L1 x budget RU/s for
``--app-period`` seconds, then L2, ... (cycling), retrying its 16500s after RetryAfterMs and
counting its charges from getLastRequestStatistics. cosmocopy (adaptive, no --max-ru) backs up
meanwhile; the figure is the share of what the application left (budget x copy time less the
application's RU) that the job used (target: at least 0.9).

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
import threading
import time
from pathlib import Path

import bson
import pymongo
from pymongo.errors import OperationFailure

from run import (COLLECTION, COSMOCOPY, DB, REPO, RESULTS_DIR, SOCKET_TIMEOUT_MS,  # noqa: E402
                 CheckError, Range, cosmocopy_argv, environment, load, log, save_record,
                 parse_step, require_at_least_one, run_measured, server_cpu_seconds)
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

    def __init__(self, upstream_port: int, ru: int | None, settings: list[str] = ()):
        self.upstream_port, self.ru, self.settings = upstream_port, ru, list(settings)

    def __enter__(self) -> "ProxyProcess":
        self._stats = Path(tempfile.mkstemp(prefix="ccopy-proxy-", suffix=".json")[1])
        argv = [sys.executable, str(PROXY), "--upstream", f"127.0.0.1:{self.upstream_port}",
                "--stats-file", str(self._stats)]
        if self.ru is not None:
            argv += ["--ru", str(self.ru)]
        argv += self.settings
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


APP_NAME = "bench-application"  # the appname of AppLoad's client, which the proxy sees


def lost_in(timeline: list[dict], lo: float, hi: float) -> dict[int, float]:
    """The budget the proxy lost between ``lo`` and ``hi`` seconds since it started (refill
    while its bucket sat full), by how many charged requests of the copying client (every
    client but AppLoad's) were at FerretDB meanwhile; the seconds at both ends count in
    proportion."""
    out: dict[int, float] = {}
    for s in timeline:
        part = min(1.0, max(0.0, hi - s["t"])) - min(1.0, max(0.0, lo - s["t"]))
        for key, ru in s.get("lost_by_app", {}).items():
            apps = (item.rpartition("=") for item in key.split(",") if item)
            k = sum(int(n) for app, _, n in apps if app != APP_NAME)
            out[k] = out.get(k, 0.0) + ru * part
    return out


def proxy_fields(stats: dict, span: tuple[float, float], budget: int | None,
                 workers: int | None = None) -> dict:
    """What the proxy saw of one run. ``span`` is the run's copy phase (epoch seconds):
    RU/s and utilisation are the RU charged in it over its length. Nothing charged comes
    after the copy phase, so that RU is all of it less what planning cost (a few RU: the
    timeline is per second, too coarse to cut a short run at both ends).

    ``utilisation_spendable`` (with ``workers``, the client's requests at once): the same RU
    over the budget the client could have spent, that is the copy phase's budget (and the
    second of it the bucket starts with) less what
    the proxy lost while every worker had a request at FerretDB (its bucket sat full and no
    worker was free to send one: FerretDB scanning and sorting the collection for a window's
    first batch, which a Cosmos index serves at once). Budget lost while a worker was free is
    the client's and stays in."""
    lo, hi = (t - stats["started_at"] for t in span)
    ru_copy = stats["ru_charged"] - ru_before(stats["timeline"], lo)
    charged = stats["charged_requests"]
    streaming = streaming_utilisation(stats["timeline"], budget)
    lost = lost_in(stats["timeline"], lo, hi)
    server_bound = sum(ru for k, ru in lost.items() if workers and k >= workers)
    # the bucket's second of budget it starts with is spendable too (the proxy's default
    # burst_seconds, which ProxyProcess keeps)
    spendable = budget * (hi - lo + 1.0) - server_bound if budget else None
    fields = {
        "ru_charged": stats["ru_charged"],
        "ru_charged_in_copy": ru_copy,
        "ru_per_second": ru_copy / (hi - lo),
        "utilisation": ru_copy / (hi - lo) / budget if budget else None,
        "utilisation_streaming": streaming,
        "utilisation_spendable": ru_copy / spendable if spendable and workers else None,
        "ru_lost_in_copy": {str(k): round(v, 2) for k, v in sorted(lost.items())},
        "ru_lost_every_worker_at_server": round(server_bound, 2) if workers else None,
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
            rng: Range, args, server_pid: int, source: dict, extra,
            proxy_settings: list[str] = (), app=None) -> dict:
    """One run of a candidate in a fresh folder (and a fresh proxy), checked and removed.
    ``app``: an AppLoad to run against the same proxy while the candidate copies."""
    folder = Path(tempfile.mkdtemp(prefix="ccopy-throttle-"))
    runner = run_cosmocopy if kind == "cosmocopy" else run_naive
    try:
        if through_proxy:
            with ProxyProcess(upstream_port, budget, proxy_settings) as proxy:
                if app is not None:
                    app.start(proxy.uri())
                try:
                    result, span = runner(label, proxy.uri(), rng, args, server_pid, folder,
                                          extra)
                finally:
                    if app is not None:
                        app.stop()
                workers = args.parallel if kind == "cosmocopy" else None
                result.update(proxy_fields(proxy.stop(), span, budget, workers))
                if app is not None:
                    result["app_load"] = app.figures(span, budget, result)
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


# ---------------------------------------------------------------- application load
APP_COLLECTION = "app"
APP_DOCS = 2000
APP_PAGE = 100  # documents per application read: ~51 RU of 1 KB documents


class AppLoad:
    """An application sharing the budget: a thread that reads APP_COLLECTION in single pages
    at ``loads[i] x budget`` RU/s, each level held ``period`` seconds, cycling. It charges
    itself what getLastRequestStatistics reports and waits RetryAfterMs after a 16500."""

    def __init__(self, budget: int, loads: list[float], period: float):
        self.budget, self.loads, self.period = budget, loads, period
        self.charges: list[tuple[float, float]] = []  # (epoch seconds, RU)
        self.throttled = 0
        self.requests = 0

    def start(self, uri: str) -> None:
        self._stop = threading.Event()
        self._client = pymongo.MongoClient(uri, appname=APP_NAME)
        self._thread = threading.Thread(target=self._run, name="app-load", daemon=True)
        self._started = time.time()
        self._thread.start()
        time.sleep(1.0)  # the application is there before the job

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()

    def level_at(self, t: float) -> float:
        """The load (fraction of the budget) the application asks for at epoch time t."""
        return self.loads[int((t - self._started) // self.period) % len(self.loads)]

    def _run(self) -> None:
        db = self._client[DB]
        tokens, last = 0.0, time.monotonic()
        skip = 0
        while not self._stop.is_set():
            now = time.monotonic()
            level = self.level_at(time.time())
            rate = level * self.budget
            tokens = min(tokens + (now - last) * rate, rate * 0.2)
            last = now
            if tokens <= 0:
                time.sleep(min(0.05, -tokens / rate) if rate > 0 else 0.05)
                continue
            self.requests += 1
            try:
                db.command({"find": APP_COLLECTION, "filter": {}, "skip": skip,
                            "limit": APP_PAGE, "batchSize": APP_PAGE, "singleBatch": True})
            except OperationFailure as e:
                if e.code != 16500:
                    raise
                self.throttled += 1
                m = re.search(r"RetryAfterMs=(\d+)", str(e))
                time.sleep(int(m.group(1)) / 1000 if m else 0.05)
                continue
            charge = db.command("getLastRequestStatistics").get("RequestCharge", 0.0)
            self.charges.append((time.time(), float(charge)))
            tokens -= float(charge)
            skip = (skip + APP_PAGE) % (APP_DOCS - APP_PAGE)

    def figures(self, span: tuple[float, float], budget: int, job: dict) -> dict:
        """RU the application spent in the job's copy phase, what it left of the budget and
        the share of that the job used (the proxy's RU in the phase less the application's)."""
        lo, hi = span
        app_ru = sum(ru for t, ru in self.charges if lo <= t < hi)
        left = budget * (hi - lo) - app_ru
        spendable = left + budget * 1.0 - (job.get("ru_lost_every_worker_at_server") or 0.0)
        job_ru = job["ru_charged_in_copy"] - app_ru
        # The same per second of the proxy's timeline, over the seconds in which the job's
        # documents were flowing (its first to its last second charging a tenth of the budget;
        # FerretDB's first-batch scans come before, see "What FerretDB does to these numbers").
        started_at = lo - job["copy_span_in_timeline"][0]
        app_per_second: dict[int, float] = {}
        for t, ru in self.charges:
            second = int(t - started_at)
            app_per_second[second] = app_per_second.get(second, 0.0) + ru
        job_per_second = {int(t): ru - app_per_second.get(int(t), 0.0)
                          for t, ru, _, _ in job["timeline"]}
        busy = sorted(t for t, ru in job_per_second.items() if ru >= 0.1 * budget)
        streaming = app_served = None
        if busy:
            seconds = range(busy[0], busy[-1] + 1)
            used = sum(job_per_second.get(t, 0.0) for t in seconds)
            app_got = sum(app_per_second.get(t, 0.0) for t in seconds)
            left_streaming = budget * len(seconds) - app_got
            streaming = used / left_streaming if left_streaming > 0 else None
            # The other side of that share: what the application got of what it asked for
            # (its level x budget in each of those seconds). A job that crowds it out takes
            # more "left" budget only because the application was throttled out of it.
            asked = sum(budget * self.level_at(started_at + t + 0.5) for t in seconds)
            app_served = app_got / asked if asked > 0 else None
        return {
            "loads": self.loads, "period_seconds": self.period,
            "job_share_of_left_streaming": streaming,
            "app_share_of_asked_streaming": app_served,
            # [second of the proxy's timeline, application RU, job RU]
            "per_second": [[t, round(app_per_second.get(t, 0.0), 2), round(job_per_second[t], 2)]
                           for t in sorted(job_per_second)],
            "app_ru_in_copy": app_ru, "app_requests": self.requests,
            "app_throttled": self.throttled,
            "app_ru_per_second": app_ru / (hi - lo),
            "left_by_app_ru": left,
            "job_ru_in_copy": job_ru,
            "job_share_of_left": job_ru / left if left > 0 else None,
            # what it left that the job could spend: less the budget the proxy lost while
            # every worker of the job was at FerretDB (its window scans; see proxy_fields)
            "job_share_of_spendable": job_ru / spendable if spendable > 0 else None,
        }


def load_app_collection(client) -> None:
    coll = client[DB][APP_COLLECTION]
    coll.drop()
    coll.insert_many([{"i": i, "pad": "x" * 1000} for i in range(APP_DOCS)])


TARGET_RANDOM_RATIO = 3.0     # issue 14: at most 3 x as long as unthrottled
TARGET_SHARE_OF_LEFT = 0.9    # issue 14: at least 0.9 of what the application leaves


def governor_figures(r: dict) -> dict:
    c = r["cosmocopy"]
    return {"copy_seconds": r["copy_seconds"], "pacing_wait_seconds": c["pacing_wait_seconds"],
            "retry_wait_seconds": c["retry_wait_seconds"], "throttle_events": c["throttle_events"],
            "final_pace": c["request_units"].get("final_pace")}


def scenario_random(args, run) -> dict:
    """--random-throttle: the same backup without and with random throttling, alternated."""
    settings = ["--throttle-rate", str(args.random_throttle), "--seed", "1"]
    runs: dict[str, list] = {"unthrottled": [], "random": []}
    for r in range(1, args.demand_repeat + 1):
        runs["unthrottled"].append(run(f"unthrottled {r}: cosmocopy through the proxy",
                                       "cosmocopy", None, True, [], ()))
        runs["random"].append(run(f"random {r}: {args.random_throttle:.0%} of requests "
                                  f"throttled at random", "cosmocopy", None, True, [], settings))
    base = statistics.median(x["copy_seconds"] for x in runs["unthrottled"])
    thr = statistics.median(x["copy_seconds"] for x in runs["random"])
    ratio = thr / base
    log(f"copy time with {args.random_throttle:.0%} random throttling: {thr:.1f} s against "
        f"{base:.1f} s unthrottled, ratio {ratio:.2f} (target <= {TARGET_RANDOM_RATIO})")
    return {"mode": "random", "throttle_rate": args.random_throttle, "runs": runs,
            "median_copy_seconds": {"unthrottled": base, "random": thr},
            "ratio": ratio, "meets_target": ratio <= TARGET_RANDOM_RATIO,
            "governor": {k: [governor_figures(x) for x in v] for k, v in runs.items()}}


def scenario_app_load(args, run, budget: int, why: str) -> dict:
    """--app-load: the adaptive job beside an application at a varying load."""
    results = []
    for r in range(1, args.demand_repeat + 1):
        app = AppLoad(budget, args.app_load, args.app_period)
        res = run(f"app load {r}: cosmocopy adaptive at {budget:,} RU/s beside an application "
                  f"at {args.app_load} x budget, {args.app_period:g} s each", "cosmocopy",
                  budget, True, [], (), app)
        a = res["app_load"]
        log(f"  application {a['app_ru_per_second']:,.0f} RU/s ({a['app_throttled']} throttled "
            f"of {a['app_requests']}); the job used {a['job_share_of_left']:.2f} of what it "
            f"left ({a['job_share_of_left_streaming'] or 0:.2f} while streaming, "
            f"{a['job_share_of_spendable'] or 0:.2f} of what it could spend; target >= "
            f"{TARGET_SHARE_OF_LEFT}); while streaming the application got "
            f"{a['app_share_of_asked_streaming'] or 0:.2f} of what it asked for")
        res["meets_target"] = (a["job_share_of_left"] or 0) >= TARGET_SHARE_OF_LEFT
        results.append(res)
    return {"mode": "app_load", "budget": {"ru_per_second": budget, "why": why},
            "runs": results, "governor": [governor_figures(x) for x in results]}


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

        def run(label, kind, budget, through_proxy, extra, proxy_settings=(), app=None):
            log(label)
            return measure(label, kind, port, budget, through_proxy, rng, args, pid, source,
                           extra, proxy_settings, app)

        if args.random_throttle is not None:
            return {"documents": args.docs, "load": {"seconds": load_seconds},
                    "range": {"from": rng.args()[0], "to": rng.args()[1],
                              "step_seconds": rng.step, "windows": rng.windows},
                    "random": scenario_random(args, run)}
        if args.app_load is not None:
            load_app_collection(client)
            if args.ru:
                budget, why = args.ru, "forced with --ru"
            else:
                demand = run("unthrottled: cosmocopy through the proxy, no budget", "cosmocopy",
                             None, True, [])["ru_per_second"]
                budget, why = choose_budget(args, demand)
            return {"documents": args.docs, "load": {"seconds": load_seconds},
                    "range": {"from": rng.args()[0], "to": rng.args()[1],
                              "step_seconds": rng.step, "windows": rng.windows},
                    "app_load": scenario_app_load(args, run, budget, why)}

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
    if "random" in run:
        r = run["random"]
        lines = [f"{'run':14} {'copy s':>7} {'paced s':>8} {'back-off s':>10} {'throttled':>9} "
                 f"{'content':>8}"]
        for kind, runs in r["runs"].items():
            for i, x in enumerate(runs, 1):
                c = x["cosmocopy"]
                lines.append(f"{kind + '_' + str(i):14} {x['copy_seconds']:7.1f} "
                             f"{c['pacing_wait_seconds']:8.1f} {c['retry_wait_seconds']:10.1f} "
                             f"{c['throttle_events']:9} "
                             f"{'ok' if x['content_check']['ok'] else 'DIFFERS':>8}")
        lines.append(f"ratio (random / unthrottled copy time) {r['ratio']:.2f}, target <= "
                     f"{TARGET_RANDOM_RATIO}")
        return lines
    if "app_load" in run:
        r = run["app_load"]
        lines = [f"{'run':6} {'copy s':>7} {'app RU/s':>8} {'job RU/s':>8} {'share':>6} "
                 f"{'stream':>6} {'spend':>6} {'paced s':>8} {'throttled':>9} {'content':>8}"]
        for i, x in enumerate(r["runs"], 1):
            a, c = x["app_load"], x["cosmocopy"]
            span = x["copy_span_in_timeline"][1] - x["copy_span_in_timeline"][0]
            lines.append(f"{i:<6} {x['copy_seconds']:7.1f} {a['app_ru_per_second']:8,.0f} "
                         f"{a['job_ru_in_copy'] / span:8,.0f} {a['job_share_of_left']:6.2f} "
                         f"{a['job_share_of_left_streaming'] or 0:6.2f} "
                         f"{a.get('job_share_of_spendable') or 0:6.2f} "
                         f"{c['pacing_wait_seconds']:8.1f} {c['throttle_events']:9} "
                         f"{'ok' if x['content_check']['ok'] else 'DIFFERS':>8}")
        lines.append(f"budget {r['budget']['ru_per_second']:,} RU/s ({r['budget']['why']}); "
                     f"share = job RU / (budget x copy s - application RU), target >= "
                     f"{TARGET_SHARE_OF_LEFT}; spend: of that, less what was lost while every "
                     f"worker of the job was at FerretDB")
        return lines
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
    p.add_argument("--random-throttle", type=float, metavar="F",
                   help="mode: no budget, a share F of requests throttled at random (see above)")
    p.add_argument("--app-load", type=lambda s: [float(x) for x in s.split(",")],
                   metavar="L1,L2,...",
                   help="mode: an application at these fractions of the budget (see above)")
    p.add_argument("--app-period", type=float, default=10.0,
                   help="seconds the application holds each --app-load level")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                   help="where the record goes (default: bench/results)")
    args = p.parse_args(argv)
    require_at_least_one(p, args, "docs", "doc_size", "days", "parallel", "batch_size", "ru",
                         "demand_repeat")
    if args.app_period <= 0:
        p.error(f"--app-period: must be more than 0 seconds, got {args.app_period}")
    if args.random_throttle is not None and args.app_load is not None:
        p.error("--random-throttle and --app-load are separate modes: give one")
    if args.random_throttle is not None and not 0 < args.random_throttle < 1:
        p.error("--random-throttle must be between 0 and 1")
    if args.app_load is not None and not all(0 <= x < 1 for x in args.app_load):
        p.error("--app-load levels must be fractions of the budget, at least 0 and below 1")
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
            "random_throttle": args.random_throttle, "app_load": args.app_load,
            "app_period": args.app_period,
            "issue_budget": ISSUE_BUDGET,
            "targets": {"utilisation_min": TARGET_UTILISATION,
                        "throttled_fraction_max": TARGET_THROTTLED},
        },
        "environment": env,
        "run": run,
    }
    save_record(record, "throttle", started, table(record), args.results_dir)
    if "random" in run:
        checks = [r["content_check"]["ok"] for runs in run["random"]["runs"].values()
                  for r in runs]
    elif "app_load" in run:
        checks = [r["content_check"]["ok"] for r in run["app_load"]["runs"]]
    else:
        checks = [r["content_check"]["ok"] for runs in run["unthrottled"]["runs"].values()
                  for r in runs] + [r["content_check"]["ok"] for r in run["candidates"].values()]
    if not all(checks):
        log("CONTENT CHECK FAILED for at least one copy (see content_check in the record)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""One job across a Dask cluster: :func:`backup`, :func:`replicate`, :func:`restore`, :func:`verify`.

Install with the extra: ``pip install "cosmocopy[dask]"`` (``pip install ./python[dask]``).
Each function takes a ``dask.distributed.Client`` and the same keyword arguments as the local
function of that name, and returns the same :class:`~cosmocopy.Result`::

    from dask.distributed import Client
    import cosmocopy.distributed as ccd

    with Client("tcp://scheduler:8786") as client:
        result = ccd.backup(client, source="kv://myvault/cosmos-conn", db="shop",
                            to="azblob://backups/shop", max_ru=40000)
        print(result.windows_written, {w.worker for w in result.windows})

How it runs (README, "Scaling out with Dask"):

- The client plans the job (as :meth:`cosmocopy.Job.plan`) and keeps it open: it holds the
  destination's lock until every window is back, and finishes the job at the end.
- Every task of the plan (a window, or the non-ObjectId pass) goes to the cluster; consecutive
  windows of one collection are batched ``windows_per_task`` to a Dask task. A worker rebuilds
  the job from the same options and runs exactly its windows (:meth:`Job.plan_tasks`), writing
  them as a local run would (data, then manifest). A task lost with its worker is run again
  elsewhere by Dask; a window another try completed is skipped, as a rerun skips completed ones.
- One RU budget: ``max_ru`` is for the whole job. A cluster-wide ``distributed.Semaphore`` with
  ``leases`` leases (default: the cluster's worker threads when the job starts) admits that many
  tasks at once, and each paces itself to ``max_ru / leases`` with the engine's own governor
  (``target_max_ru`` likewise), keeping its lease until its share has paid for what it spent,
  so the sum stays within ``max_ru`` over the run (a second in which every lease spends the
  second of its share its governor saved up can see more). Without ``max_ru`` the pace is learnt once and shared: a
  ``distributed.Variable`` holds the cluster's pace (RU/s) that the tasks learnt from throttling;
  each task starts at its share of it and writes back what it ended at.
- A progress callback that raises, or Ctrl-C, stops the running tasks; the call raises once
  none is writing (the lock is held until then).
- Secrets never travel: a value holding a secret (a password, a key, a SAS signature) is
  refused here. Give a
  Key Vault reference (``kv://VAULT/SECRET``) that the workers resolve themselves, or leave the
  credentials in the workers' environment (``AZURE_STORAGE_CONNECTION_STRING``, managed
  identity). A MongoDB URI without a password (x509, a local server) is fine.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import _options, errors
from ._native import api as _engine
from .job import Job, Progress, Task
from .results import Result

try:
    import dask
    import distributed as _distributed
except ImportError as _e:  # pragma: no cover - the extra is not installed
    raise ImportError("cosmocopy.distributed needs Dask: pip install 'cosmocopy[dask]'") from _e

_dd: Any = _distributed  # untyped: reached as Any

__all__ = ["backup", "replicate", "restore", "verify", "ClusterProgress", "stderr_progress",
           "cluster_config", "LEASE_TIMEOUT"]

#: How long the scheduler keeps a lease of a worker that stopped refreshing it (a dead worker's
#: share of the budget comes back after this). Dask's default is 30 s; set it on the scheduler
#: (``distributed.scheduler.locks.lease-timeout``) when you start it; LocalCluster() in this
#: process takes it from :func:`dask.config.set` as :func:`cluster_config` gives it.
LEASE_TIMEOUT = "10s"


def cluster_config() -> dict[str, str]:
    """Dask settings under which a dead worker's lease comes back in seconds. The lease timeout
    is the job's own (its semaphore is registered with it, and the tasks refresh their leases
    every fifth of it); the scheduler checks leases every ``lease-validation-interval`` (10 s by
    default): set it with ``dask.config.set(cosmocopy.distributed.cluster_config())`` (or in the
    scheduler's dask config) before the scheduler starts."""
    return {"distributed.scheduler.locks.lease-timeout": LEASE_TIMEOUT,
            "distributed.scheduler.locks.lease-validation-interval": "1s"}


def _semaphore(name: str, leases: int) -> Any:
    """The job's semaphore, registered with the scheduler under the job's lease timeout (the
    scheduler keeps the timeout it was registered with; registering outside this setting gave
    Dask's 30 s)."""
    with dask.config.set({"distributed.scheduler.locks.lease-timeout": LEASE_TIMEOUT}):
        sem = _dd.Semaphore(max_leases=leases, name=name)
        sem.register()
        return sem


@dataclass(frozen=True)
class ClusterProgress:
    """Progress of a distributed job, as the client sees it (``progress=`` callback).

    ``windows_total`` tasks of the plan; ``windows_done``, ``windows_failed``,
    ``windows_already_complete`` so far; ``documents``, ``bytes`` read (running tasks included)
    and ``ru_charged`` across the cluster; ``tasks_running`` Dask tasks holding a lease;
    ``workers`` that ran something; ``elapsed_seconds``."""

    windows_total: int
    windows_done: int
    windows_failed: int
    windows_already_complete: int
    documents: int
    bytes: int
    ru_charged: float
    tasks_running: int
    workers: int
    elapsed_seconds: float

    def line(self) -> str:
        """One line for a terminal."""
        return (f"{self.windows_done + self.windows_already_complete}/{self.windows_total} "
                f"windows, {self.documents:,} documents, {self.bytes / 1e6:,.1f} MB, "
                f"{self.ru_charged:,.0f} RU, {self.tasks_running} running on {self.workers} "
                f"worker{'s' if self.workers != 1 else ''}, {self.elapsed_seconds:.0f} s")


def stderr_progress(p: ClusterProgress) -> None:
    """A ready-made ``progress=``: one line on stderr, rewritten in place."""
    sys.stderr.write("\r" + p.line() + "\033[K")
    if p.windows_done + p.windows_failed + p.windows_already_complete >= p.windows_total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------------- secrets

_ACCOUNT_KEY = re.compile(r"(?i)(^|;)\s*AccountKey\s*=")


def _plain_secret(value: str) -> str | None:
    """What makes this option value a plain secret, or None. A secret is whatever the engine
    masks in its messages (a URI's password, libmongoc's ...Password options and
    authMechanismProperties, an account key, a SAS signature over http or https, a token)."""
    low = value.lower()
    if low.startswith("kv://") or (low.startswith("https://") and ".vault." in low.split("/")[2]
                                   and "/secrets/" in low):
        return None  # a Key Vault reference: the worker reads the secret itself
    if _engine.cosmocopy_mask_secrets(value) == value:
        return None
    if low.startswith(("mongodb://", "mongodb+srv://")):
        return "a MongoDB connection string with a password"
    if _ACCOUNT_KEY.search(value):
        return "a storage connection string with a key"
    if ";" in value or low.startswith(("blobendpoint=", "defaultendpointsprotocol=")):
        return "a storage connection string with a SAS"
    if "://" in low and re.search(r"(?i)[?&]sig=", value):
        return "a URL with a SAS signature"
    return "a secret"


def _check_secrets(function: str, command: str, options: Mapping[str, Any]) -> None:
    known = _options.keywords(command)
    for kw, value in options.items():
        opts = known.get("from" if kw == "from_" else kw)
        if value is None or not opts or not any(o.secret for o in opts):
            continue
        for text in (value if isinstance(value, (list, tuple)) else [value]):
            what = _plain_secret(str(text))
            if what:
                raise errors.UsageError(
                    f"{function}(): {kw} is {what}; cosmocopy.distributed never sends secrets to "
                    "the cluster. Give a Key Vault reference (kv://VAULT/SECRET, read by each "
                    "worker with its own identity) or put the credentials in the workers' "
                    "environment (AZURE_STORAGE_CONNECTION_STRING, managed identity)")


# ------------------------------------------------------------------------------ worker side

_PUBLISH_INTERVAL = 0.5
# how long the client, stopping (its progress callback raised, Ctrl-C), waits for the running
# tasks to stop before it lets the destination go anyway
_STOP_TIMEOUT = 120.0


class _Stopped(Exception):
    """The client asked the job's tasks to stop."""


def _charged(summary: dict[str, Any], key: str) -> float:
    return float((summary.get(key) or {}).get("charged", 0.0) or 0.0)


def _run_on_worker(command: str, options: dict[str, Any], specs: list[str], job_id: str,
                   leases: int, share: int, target_share: int = 0) -> dict[str, Any]:
    """One Dask task: a lease of the job's RU budget, then these windows, as a helper job."""
    worker = _dd.get_worker()
    stop = _dd.Event(f"cosmocopy-stop-{job_id}")
    stopped: dict[str, Any] = {"worker": worker.address, "tasks": [], "summary": None}
    if stop.is_set():
        return stopped
    sem = _semaphore(f"cosmocopy-ru-{job_id}", leases)
    pace_var = None if share else _dd.Variable(f"cosmocopy-pace-{job_id}")
    topic = f"cosmocopy-progress-{job_id}"
    key = str(worker.get_current_task())
    last = [0.0, time.monotonic()]

    def publish(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= _PUBLISH_INTERVAL or p.phase == "done":
            last[0] = now
            worker.log_event(topic, (key, p.documents, p.bytes, p.ru_charged))
        if now - last[1] >= _PUBLISH_INTERVAL:
            last[1] = now
            if stop.is_set():
                raise _Stopped  # stops the job as a local run's raising callback does

    with sem:
        leased = time.monotonic()
        if stop.is_set():
            return stopped
        opts = dict(options)
        if share:
            opts["max_ru"] = share
        if target_share:
            opts["target_max_ru"] = target_share
        job = Job(command, progress=publish, **opts)
        try:
            pace = 0.0
            if pace_var is not None:
                try:
                    pace = float(pace_var.get(timeout=5) or 0.0)
                except Exception:  # noqa: BLE001 - no pace learnt yet: start unpaced
                    pace = 0.0
                if pace > 0:
                    job.set_pace(pace / leases)
            outcome: dict[str, Any] = {"worker": worker.address, "tasks": [], "summary": None}
            try:
                job.plan_tasks(specs)
                job.run_tasks()
            except (errors.Error, _Stopped):
                pass  # recorded in the tasks and the summary
            try:
                result = job.finish()
            except errors.Error as e:
                result = e.result if e.result is not None else job.result()
            outcome["tasks"] = [t.to_dict() for t in job.tasks]
            outcome["summary"] = result.to_dict()
            final = job.progress()
            if pace_var is not None and final.ru_pace > 0:
                pace_var.set(final.ru_pace * leases)  # what this share settled at, cluster-wide
        finally:
            job.close()
        # The lease is the share's: a task that spent more than its share earned while it held
        # the lease (each job's governor starts with a second of burst, and a short task may be
        # all burst) keeps it until the share has paid for it, so that the sum over the cluster
        # stays within the budget however short the tasks are.
        summary = outcome["summary"] or {}
        owed = max(_charged(summary, "request_units") / share if share else 0.0,
                   _charged(summary, "target_request_units") / target_share if target_share else 0.0)
        while not stop.is_set() and time.monotonic() - leased < owed:
            time.sleep(min(_PUBLISH_INTERVAL, owed - (time.monotonic() - leased)))
        return outcome


# ------------------------------------------------------------------------------ client side

_SUM_KEYS = ("windows_written", "windows_failed", "windows_already_complete", "documents", "bytes",
             "stored_bytes", "documents_read", "retries", "throttle_events", "retry_wait_seconds",
             "pacing_wait_seconds", "documents_rejected", "windows_verified",
             "windows_differing")


def _batches(tasks: list[Task], per_task: int) -> list[list[Task]]:
    out: list[list[Task]] = []
    for t in tasks:
        if out and len(out[-1]) < per_task and out[-1][-1].collection == t.collection \
                and out[-1][-1].kind == t.kind == "window":
            out[-1].append(t)
        else:
            out.append([t])
    return out


def _worker_threads(client: Any) -> int:
    info = client.scheduler_info()
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))


def _merge(base: dict[str, Any], parts: list[dict[str, Any]], lost: list[str],
           elapsed: float) -> dict[str, Any]:
    out = dict(base)
    for k in _SUM_KEYS:
        if k in out:
            out[k] = type(out[k])(sum(p["summary"].get(k, 0) for p in parts))
    # the client's plan counted the windows the catalog held before the run
    out["windows_already_complete"] = base.get("windows_already_complete", 0) + sum(
        p["summary"].get("windows_already_complete", 0) for p in parts)
    out["windows_failed"] = out.get("windows_failed", 0) + len(lost)
    for key in ("request_units", "target_request_units"):
        ru = dict(base.get(key) or {})
        if not ru:
            continue
        ru["charged"] = sum(_charged(p["summary"], key) for p in parts)
        if key == "request_units":
            ru["per_second"] = ru["charged"] / elapsed if elapsed > 0 else 0.0
        # where the charges came from is what the workers that read saw (the client read nothing)
        sources = {(p["summary"].get(key) or {}).get("source") for p in parts} - {None}
        if sources:
            ru["source"] = "estimate" if "estimate" in sources else sources.pop()
        out[key] = ru
    windows: list[dict[str, Any]] = []
    verdicts: list[dict[str, Any]] = []
    rejected: list[Any] = []
    errs, warns = list(base.get("errors") or []), list(base.get("warnings") or [])
    for p in parts:
        s = p["summary"]
        windows += [dict(w, worker=p["worker"]) for w in s.get("windows") or []]
        verdicts += [dict(v, worker=p["worker"]) for v in s.get("verdicts") or []]
        errs += [f"{e} (worker {p['worker']})" for e in s.get("errors") or []]
        warns += [w for w in s.get("warnings") or [] if w not in warns]
        rejected += s.get("rejected") or []
    errs += lost
    windows.sort(key=lambda w: (w.get("collection") or "", w.get("kind") or "", w.get("start") or ""))
    out["windows"] = windows
    if "verdicts" in out:
        out["verdicts"] = sorted(verdicts, key=_in_plan_order)
    if "rejected" in out:
        out["rejected"] = rejected
    out["errors"], out["warnings"] = errs, warns
    by_coll: dict[str, dict[str, Any]] = {c["name"]: dict(c) for c in base.get("collections") or []}
    for c in by_coll.values():
        for k in ("windows_written", "documents", "bytes", "stored_bytes"):
            c[k] = 0
    for w in windows:
        wc = by_coll.get(w.get("collection") or "")
        if wc is not None:
            wc["windows_written"] += 1
            for k in ("documents", "bytes", "stored_bytes"):
                wc[k] += int(w.get(k, 0) or 0)
    out["collections"] = list(by_coll.values())
    out["elapsed_seconds"] = elapsed
    copy_s = max(elapsed - float(base.get("planning_seconds", 0.0) or 0.0), 1e-9)
    out["copy_seconds"] = copy_s
    out["documents_per_second"] = out.get("documents", 0) / copy_s
    out["bytes_per_second"] = out.get("bytes", 0) / copy_s
    # the first failed window's error, as a local run tells it; else the first task's failure
    failures = [p["summary"]["error"] for p in parts if p["summary"].get("error")
                and p["summary"].get("windows_failed")]
    failures += [p["summary"]["error"] for p in parts if p["summary"].get("error")]
    first_error: dict[str, Any] | None = failures[0] if failures else None
    if first_error is None and lost:
        first_error = {"code": "EIO", "domain": "engine", "cause": 0, "message": lost[0]}
    if first_error is not None and first_error.get("code") != "EMISMATCH":
        # each helper's message counted only its own windows: the job's counts them all (the
        # windows a helper did not start are its task's, not the job's: left out)
        first = _OWN_NOT_STARTED.sub("", _OWN_COUNT.sub("", first_error.get("message") or ""))
        if out["windows_failed"] > 1:
            first = f"{out['windows_failed']} windows failed, the first: {first}"
        first_error = dict(first_error, message=first)
    if first_error is not None and out.get("status") == "ok":
        failed = out["windows_failed"] > 0 or lost
        out["status"] = "failed" if failed else ("differs" if first_error.get("code") == "EMISMATCH"
                                                 else "failed")
        out["error"] = first_error
    if out.get("windows_differing"):
        out["status"], out["error"] = "differs", out.get("error") or first_error
        if out["error"] and out["error"].get("code") == "EMISMATCH":
            out["error"] = dict(out["error"], message=_differ_message(out))
    return out


_OWN_COUNT = re.compile(r"^\d+ windows failed, the first: ")
_OWN_NOT_STARTED = re.compile(r"; \d+ of \d+ windows not started: run again to continue$")


def _in_plan_order(v: dict[str, Any]) -> tuple[str, bool, str]:
    return (v.get("collection") or "", v.get("kind") != "window", v.get("start") or "")


def _differ_message(summary: dict[str, Any]) -> str:
    """verify's message for the whole job, in the engine's words: "2 of 36 windows differ: ...",
    naming the first three (each worker's own counted only its windows)."""
    verdicts = sorted(summary.get("verdicts") or [], key=_in_plan_order)
    total, n = len(verdicts), int(summary.get("windows_differing", 0))
    db = summary.get("database") or ""
    names: list[str] = []
    for v in verdicts:
        if v.get("problem") and len(names) < 3:
            names.append(f"{db}.{v.get('collection')} (pass for non-ObjectId _id)"
                         if v.get("kind") != "window"
                         else f"{db}.{v.get('collection')} [{v.get('start')}, {v.get('end')})")
    return (f"{n} of {total} window{'' if total == 1 else 's'} differ{'s' if n == 1 else ''}: "
            f"{', '.join(names)}{', ...' if n > len(names) else ''}")


def _stop_tasks(client: Any, stop: Any, futures: list[Any]) -> None:
    """Ask the job's tasks to stop and wait (at most _STOP_TIMEOUT) until none runs."""
    try:
        stop.set()
        _dd.wait(futures, timeout=_STOP_TIMEOUT)
    except _dd.TimeoutError:
        logging.getLogger("cosmocopy").warning(
            "distributed: tasks still running %.0f s after the job was stopped; letting the "
            "destination go", _STOP_TIMEOUT)
    except Exception:  # noqa: BLE001 - the cluster is gone: nothing is running on it
        pass
    client.cancel(futures)
    if all(f.done() for f in futures):
        try:
            stop.clear()  # nothing left to see it: the scheduler forgets it
        except Exception:  # noqa: BLE001
            pass


def _budget(opts: Any, name: str) -> int:
    value = _engine.ccopy_options_get(opts, name)
    return int(value or 0)


def _check_client(function: str, client: Any) -> None:
    if not isinstance(client, _dd.Client):
        raise errors._UnknownArgument(
            f"{function}(client): expected a dask.distributed.Client, not "
            f"{type(client).__name__}")
    if client.status not in ("running", "connecting"):
        raise errors.UsageError(f"{function}(client): the client is {client.status}: "
                                "connect it to the cluster first")


def _run(function: str, command: str, client: Any, options: dict[str, Any], *,
         progress: Callable[[ClusterProgress], object] | None, leases: int | None,
         windows_per_task: int | None, retries: int | None) -> Result:
    if progress is not None and not callable(progress):
        raise errors._UnknownArgument(f"{function}(): progress must be callable")
    for name, value in (("leases", leases), ("windows_per_task", windows_per_task)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise errors._UnknownArgument(
                f"{function}(): {name} must be a whole number, at least 1")
    if retries is None:
        retries = 2
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise errors._UnknownArgument(f"{function}(): retries must be a whole number, at least 0")
    if command == "restore" and any(options.get(k) in (True, "yes") for k in ("drop", "copy_indexes")):
        raise errors.UsageError(f"{function}(): drop and copy_indexes are for a local restore "
                                "(cosmocopy.restore): every worker would drop what the others "
                                "wrote. Drop the target first, or restore without them")
    # a one-shot iterable (collection=iter([...])) is read once, here: the client's job and
    # every worker's see the same list
    options = {k: list(v) if isinstance(v, Iterator) else v for k, v in options.items()}
    _check_secrets(function, command, options)
    options = {k: v for k, v in options.items() if v is not None}
    started = time.monotonic()
    # the options checked as a local job checks them (UsageError naming the argument), and
    # the budgets as the engine reads them
    opts, _ = _options.build(command, options)
    _check_client(function, client)
    max_ru = _budget(opts, "max_ru") if command != "restore" else 0
    target_max_ru = _budget(opts, "target_max_ru") if command in ("replicate", "restore") else 0
    k = leases or _worker_threads(client)
    for budget in (max_ru, target_max_ru):
        if budget:
            k = min(k, budget)  # at least 1 RU/s per lease
    share = max_ru // k if max_ru else 0
    target_share = target_max_ru // k if target_max_ru else 0

    job = Job(command, **options)  # plans here; holds the destination's lock until finish
    try:
        tasks = job.plan()
        job_id = uuid.uuid4().hex
        sem = _semaphore(f"cosmocopy-ru-{job_id}", k)
        sem.register()
        pace_var = None
        if not share:
            pace_var = _dd.Variable(f"cosmocopy-pace-{job_id}", client=client)
            pace_var.set(0.0)
        per_task = windows_per_task or max(1, math.ceil(len(tasks) / (4 * k)))
        batches = _batches(tasks, per_task)
        # task arguments: the options (no secret: checked above), the windows, the job's names
        stop = _dd.Event(f"cosmocopy-stop-{job_id}", client=client)
        futures = [client.submit(_run_on_worker, command, options, [t.spec for t in b], job_id, k,
                                 share, target_share, key=f"cosmocopy-{command}-{job_id[:8]}-{i}",
                                 pure=False, retries=retries)
                   for i, b in enumerate(batches)]
        total = len(tasks)
        parts: list[dict[str, Any]] = []
        lost: list[str] = []
        live: dict[str, tuple[int, int, float]] = {}
        lock = threading.Lock()
        finished: set[str] = set()
        base_done = sum(1 for t in tasks if t.state == "done")

        def report() -> None:
            if progress is None:
                return
            with lock:
                done_parts = list(parts)
                running = dict(live)
            docs = sum(p["summary"].get("documents_read", 0) for p in done_parts)
            nbytes = sum(p["summary"].get("bytes", 0) for p in done_parts)
            ru = sum((p["summary"].get("request_units") or {}).get("charged", 0.0)
                     for p in done_parts)
            docs += sum(v[0] for v in running.values())
            nbytes += sum(v[1] for v in running.values())
            ru += sum(v[2] for v in running.values())
            progress(ClusterProgress(
                windows_total=total,
                windows_done=base_done + sum(p["summary"].get("windows_written", 0)
                                             + p["summary"].get("windows_verified", 0)
                                             * (command == "verify") for p in done_parts),
                windows_failed=sum(p["summary"].get("windows_failed", 0) for p in done_parts)
                + len(lost),
                windows_already_complete=sum(p["summary"].get("windows_already_complete", 0)
                                             for p in done_parts),
                documents=docs, bytes=nbytes, ru_charged=ru, tasks_running=len(running),
                workers=len({p["worker"] for p in done_parts}),
                elapsed_seconds=time.monotonic() - started))

        def on_event(event: Any) -> None:
            try:
                key, docs, nbytes, ru = event[1]
                with lock:
                    if key not in finished:
                        live[key] = (docs, nbytes, ru)
            except Exception:  # noqa: BLE001 - progress is best effort
                pass

        topic = f"cosmocopy-progress-{job_id}"
        client.subscribe_topic(topic, on_event)
        try:
            pending = set(futures)
            while pending:
                # the caller's progress callback runs here, on the caller's thread
                try:
                    done, pending = _dd.wait(pending, timeout=_PUBLISH_INTERVAL,
                                             return_when="FIRST_COMPLETED")
                except _dd.TimeoutError:
                    done = set()
                for fut in done:
                    try:
                        part = fut.result()
                    except Exception as e:  # noqa: BLE001 - a task Dask gave up on (KilledWorker)
                        with lock:
                            lost.append(f"Dask task {fut.key} failed: {type(e).__name__}: {e}")
                            finished.add(str(fut.key))
                            live.pop(str(fut.key), None)
                    else:
                        with lock:
                            parts.append(part)
                            finished.add(str(fut.key))
                            live.pop(str(fut.key), None)
                report()
        except BaseException:
            # the destination's lock is held until no task writes: the running tasks stop (as
            # a local run stops), those not started return at once
            _stop_tasks(client, stop, futures)
            raise
        finally:
            client.unsubscribe_topic(topic)
            for close in (sem.close, pace_var.delete if pace_var is not None else None):
                try:
                    if close is not None:
                        close()
                except Exception:  # noqa: BLE001 - scheduler state of a finished job
                    pass
        try:
            base = job.finish().to_dict()
        except errors.Error as e:  # the client's job ran nothing: only a finish failure
            base = e.result.to_dict() if e.result is not None else job.result().to_dict()
    finally:
        job.close()
    merged = Result(_merge(base, parts, lost, time.monotonic() - started))
    if merged.get("error") and merged.status != "ok":
        raise errors.from_summary(merged["error"], merged)
    return merged


def backup(client: Any, *, progress: Callable[[ClusterProgress], object] | None = None,
           leases: int | None = None, windows_per_task: int | None = None, retries: int = 2,
           **options: Any) -> Result:
    """:func:`cosmocopy.backup` across the Dask cluster of ``client``.

    ``options`` are :func:`cosmocopy.backup`'s; ``max_ru`` is the budget of the whole job.
    ``leases``: tasks running at once (default: the cluster's worker threads), each paced to
    ``max_ru / leases``. ``windows_per_task``: windows batched into one Dask task (default:
    about four tasks per lease). ``retries``: Dask retries of a task that raised (a task lost
    with its worker is rerun anyway). ``progress``: called with a :class:`ClusterProgress`
    (:func:`stderr_progress` prints a line). The :class:`~cosmocopy.Result` is a local run's,
    each window outcome with the ``worker`` that wrote it."""
    return _run("distributed.backup", "backup", client, options, progress=progress,
                leases=leases, windows_per_task=windows_per_task, retries=retries)


def replicate(client: Any, *, progress: Callable[[ClusterProgress], object] | None = None,
              leases: int | None = None, windows_per_task: int | None = None, retries: int = 2,
              **options: Any) -> Result:
    """:func:`cosmocopy.replicate` across the cluster (arguments as :func:`backup`)."""
    return _run("distributed.replicate", "replicate", client, options, progress=progress,
                leases=leases, windows_per_task=windows_per_task, retries=retries)


def restore(client: Any, *, progress: Callable[[ClusterProgress], object] | None = None,
            leases: int | None = None, windows_per_task: int | None = None, retries: int = 2,
            **options: Any) -> Result:
    """:func:`cosmocopy.restore` across the cluster (arguments as :func:`backup`; ``db`` is
    required; ``drop`` and ``copy_indexes`` are refused: every worker would drop the others'
    windows)."""
    return _run("distributed.restore", "restore", client, options, progress=progress,
                leases=leases, windows_per_task=windows_per_task, retries=retries)


def verify(client: Any, *, progress: Callable[[ClusterProgress], object] | None = None,
           leases: int | None = None, windows_per_task: int | None = None, retries: int = 2,
           **options: Any) -> Result:
    """:func:`cosmocopy.verify` across the cluster (arguments as :func:`backup`)."""
    return _run("distributed.verify", "verify", client, options, progress=progress,
                leases=leases, windows_per_task=windows_per_task, retries=retries)

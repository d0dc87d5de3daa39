"""Jobs with control: plan, inspect the tasks, run all or some, watch, cancel.

The functions :func:`cosmocopy.backup` and friends are ``Job(...).run()``. Use a :class:`Job`
when you want to look at the plan first, run tasks one at a time (a distributed runner does), or
watch and cancel a job from another thread.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import reprlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from . import _options, errors
from ._native import api as _e
from .results import Result

__all__ = ["Job", "Task", "Progress"]

logger = logging.getLogger("cosmocopy")

_KINDS = {"backup": 0, "replicate": 1, "restore": 2, "verify": 3}
_PHASES = ("planning", "copying", "done")
_STATES = ("pending", "running", "done", "failed", "stopped")
_LOG_LEVELS = (logging.INFO, logging.WARNING, logging.ERROR)
_PHASE_DONE = 2
# at most this many progress calls a second reach the caller's callback (phase changes always do)
_PROGRESS_INTERVAL = 0.1


@dataclass(frozen=True)
class Progress:
    """A snapshot of a job's progress (any thread, any moment: :meth:`Job.progress`).

    ``phase`` is "planning", "copying" or "done". Counts are for this run: windows planned
    (``windows_total``, complete ones skipped), done, failed; documents and bytes read;
    documents, bytes and stored bytes of the windows completed; retries and throttling events;
    request units charged and the governor's pace; rates and an ETA (-1 when unknown).
    """

    phase: str
    windows_total: int = 0
    windows_done: int = 0
    windows_failed: int = 0
    windows_already_complete: int = 0
    documents: int = 0
    bytes: int = 0
    retries: int = 0
    throttle_events: int = 0
    documents_written: int = 0
    bytes_written: int = 0
    stored_bytes: int = 0
    retry_wait_seconds: float = 0.0
    pacing_wait_seconds: float = 0.0
    ru_charged: float = 0.0
    ru_per_second: float = 0.0
    ru_pace: float = 0.0
    ru_estimated: bool = False
    elapsed_seconds: float = 0.0
    documents_per_second: float = 0.0
    bytes_per_second: float = 0.0
    eta_seconds: float = -1.0
    documents_rejected: int = 0
    target_ru_charged: float = 0.0
    target_ru_pace: float = 0.0
    windows_verified: int = 0
    windows_mismatched: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_PROGRESS_FIELDS = [f for f in Progress.__dataclass_fields__ if f != "phase"]


def _progress_from(p: Any) -> Progress:
    values = {name: getattr(p, name) for name in _PROGRESS_FIELDS}
    values["ru_estimated"] = bool(values["ru_estimated"])
    return Progress(phase=_PHASES[p.phase] if 0 <= p.phase < 3 else "done", **values)


def _utc(t: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc)


@dataclass(frozen=True)
class Task:
    """One task of a planned job: a window of one collection, or its pass over the documents
    whose ``_id`` is not an ObjectId (``kind == "non-objectid"``, ``start`` and ``end`` None).

    ``state`` is "pending", "running", "done", "failed" or "stopped"; once done, ``documents``,
    ``bytes``, ``stored_bytes`` and ``sha256`` say what was written (restore and verify: what
    the backup's window holds, known before running) and ``data`` where. ``error`` is the
    failure of a failed or stopped task. ``spec`` is the task as one line of JSON, to log or to
    send to another process.
    """

    index: int
    database: str
    collection: str
    kind: str
    start: _dt.datetime | None
    end: _dt.datetime | None
    state: str
    documents: int = 0
    bytes: int = 0
    stored_bytes: int = 0
    sha256: str = ""
    data: str | None = None
    partial: bool = False
    error: errors.Error | None = field(default=None, compare=False)
    spec: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "error"}
        d["start"] = self.start.strftime("%Y-%m-%dT%H:%M:%SZ") if self.start else None
        d["end"] = self.end.strftime("%Y-%m-%dT%H:%M:%SZ") if self.end else None
        d["error"] = None if self.error is None else {
            "code": self.error.code_name, "domain": self.error.domain,
            "cause": self.error.cause, "message": self.error.message}
        return d


def _error_from(err: Any, result: Result | None = None) -> errors.Error:
    return errors.from_engine(int(err.code), int(err.domain), int(err.cause), err.message, result)


class Job:
    """A backup, replicate, restore or verify job, with control over its steps.

    ``Job(command, **options)`` takes the same keyword arguments as the function of that
    command (:func:`cosmocopy.backup`...); nothing is contacted until :meth:`plan` or
    :meth:`run`. A job is driven by one thread (plan, run, run_task, finish); :meth:`progress`,
    :meth:`result` and :meth:`cancel` may be called from any thread at any moment, from a
    progress callback too.

    ``progress``, when given, is called with a :class:`Progress` on the thread that runs the
    job, at phase changes and about ten times a second. An exception it raises stops the job
    resumably (nothing incomplete is marked complete) and is re-raised by the running call with
    its traceback. ``KeyboardInterrupt`` (Ctrl-C) during a call cancels the job resumably and is
    re-raised. Log lines of the engine go to the ``logging`` logger ``"cosmocopy"``.

    Example::

        with cosmocopy.Job("backup", source=uri, db="shop", to="dir:/backups/shop") as job:
            tasks = job.plan()
            print(len(tasks), "windows to copy;", tasks[0].spec)
            job.run_task(0)              # one window
            result = job.run()           # the rest, then finish
    """

    def __init__(self, command: str, *, progress: Callable[[Progress], object] | None = None,
                 **options: Any) -> None:
        self._job: Any = None
        self._final_tasks: list[Task] = []
        if command not in _KINDS:
            raise errors.UsageError(
                f"Job(): unknown command {command!r} (expected one of {', '.join(_KINDS)})")
        if progress is not None and not callable(progress):
            raise errors._UnknownArgument(f"{command}(): progress must be callable")
        self.command = command
        opts, self._given = _options.build(command, options)
        err = _e.ccopy_error_t()
        job = _e.cosmocopy_job_new(_KINDS[command], opts, err)
        if job is None:
            message, names = _options.explain(err.message, command, self._given)
            raise errors.named(errors.UsageError(message, code=err.code, cause=err.cause), names)
        self._job = job
        self._user_progress = progress
        self._exc: BaseException | None = None
        self._last_call = 0.0
        self._last_phase = -1
        self._driving = threading.Lock()
        self._planned = False
        self._plan_failed: errors.Error | None = None
        self._finished = False
        self._final: Result | None = None
        self._final_progress: Progress | None = None
        # bound methods kept on the instance: the engine borrows them for the job's lifetime
        self._progress_cb = self._on_progress
        self._log_cb = self._on_log
        # without a progress callback, the engine's reports reach Python only with a Ctrl-C
        _e.cosmocopy_job_set_callbacks(job, self._progress_cb, self._log_cb, progress is not None)

    # ------------------------------------------------------------------ callbacks (engine threads)

    def _on_progress(self, phase: int, exc: BaseException | None) -> int:
        try:
            if exc is not None:  # Ctrl-C while the engine ran: cancel, resumably
                raise exc
            user = self._user_progress
            if user is None:
                return 0
            now = time.monotonic()
            if phase == self._last_phase and phase != _PHASE_DONE and \
                    now - self._last_call < _PROGRESS_INTERVAL:
                return 0
            self._last_call, self._last_phase = now, phase
            user(self.progress())
            return 0
        except KeyboardInterrupt as e:
            if self._exc is None:
                self._exc = e
            _e.ccopy_job_cancel(self._job)
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised by the running call
            if self._exc is None:
                self._exc = e
            return 1

    @staticmethod
    def _on_log(level: int, message: str) -> int:
        try:
            logger.log(_LOG_LEVELS[level] if 0 <= level < 3 else logging.INFO, "%s", message)
        except Exception:  # noqa: BLE001 - logging must never stop a copy
            pass
        return 0

    # ------------------------------------------------------------------ steps

    def _handle(self) -> Any:
        if self._job is None:
            raise errors.UsageError(f"{self.command} job: closed")
        return self._job

    def _call(self, fn: Callable[..., int], *args: Any) -> int:
        """Run a blocking engine call (the GIL is released inside) and raise what it reports."""
        job = self._handle()
        if not self._driving.acquire(blocking=False):
            raise errors.UsageError(f"{self.command} job: already running in another thread")
        try:
            self._exc = None
            err = _e.ccopy_error_t()
            rc = fn(job, *args, err)
        finally:
            self._driving.release()
        if rc == 0:
            return 0
        exc, self._exc = self._exc, None
        if exc is not None and rc in (errors.ESTOPPED, errors.ECANCELED):
            raise exc
        message, names = _options.explain(err.message, self.command, self._given)
        raise errors.named(errors.from_engine(int(err.code), int(err.domain), int(err.cause),
                                              message, self._result_now()), names)

    def plan(self) -> list[Task]:
        """Check the options against the servers, read the catalog and cut what is left into
        tasks. Returns them (also :attr:`tasks`). Planning twice returns the same plan; after
        planning failed, planning again raises :class:`~cosmocopy.UsageError` (a job that could
        not plan has ended: make a new one to try again)."""
        if self._plan_failed is not None:
            failed = self._plan_failed
            raise errors.UsageError(f"{self.command} job: its planning failed ({failed.message}); "
                                    "make a new job to try again") from failed
        if not self._planned:
            if self._finished:
                raise errors.UsageError(f"{self.command} job: already finished")
            self._planned = True
            self._plan_with(_e.cosmocopy_job_plan)
        return self.tasks

    def _plan_with(self, fn: Callable[..., int], *args: Any) -> None:
        """Plan by ``fn``; a job that could not plan cannot run: end it, so that the result
        the exception carries is final."""
        try:
            self._call(fn, *args)
        except errors.Error as e:
            self._finished = True
            self._plan_failed = e
            try:
                self._call(_e.cosmocopy_job_finish)
            except errors.Error:
                pass
            self._final = self._result_now()
            e.result = self._final
            raise

    def plan_tasks(self, specs: Iterable[str | Task]) -> list[Task]:
        """Plan exactly these tasks, as a helper of a job planned in another process (a
        distributed runner's worker; ``cosmocopy.distributed`` does this).

        ``specs`` are :attr:`Task.spec` lines (or tasks) of a job made from the same options
        and planned there; that job holds the destination's lock until it finishes. This one
        takes no lock and only copies its windows: a window the catalog already holds complete
        (another try finished it) is counted as already complete, not copied again. Returns
        the tasks, then :meth:`run_tasks` and :meth:`finish` as usual."""
        if self._planned:
            raise errors.UsageError(f"{self.command} job: planned already")
        if not isinstance(specs, Iterable) or isinstance(specs, (str, bytes)):
            raise errors.UsageError(f"{self.command} job: plan_tasks() takes a list of task specs "
                                    f"(Task.spec lines or tasks), not {type(specs).__name__}")
        lines = [t.spec if isinstance(t, Task) else t for t in specs]
        if not lines or not all(isinstance(line, str) and line.strip() for line in lines):
            raise errors.UsageError(f"{self.command} job: plan_tasks() needs task specs "
                                    "(Task.spec lines)")
        text = _options.c_text("[" + ",".join(lines) + "]", f"{self.command} job: plan_tasks()")
        self._planned = True
        self._plan_with(_e.ccopy_job_plan_tasks, text)
        return self.tasks

    def set_pace(self, ru_per_second: float) -> None:
        """Start the RU governor at this pace rather than unpaced (or at ``max_ru``), as if
        throttling had found it: it probes above it as after any cut (1% a second, doubled for
        every second without a throttle, up to 10%) and throttling cuts it, never past
        ``max_ru``. For a pace learnt earlier on the same account (0 leaves it as it is). Call
        before planning."""
        if self._planned:
            raise errors.UsageError(f"{self.command} job: set_pace() comes before planning")
        where = f"set_pace(ru_per_second={reprlib.repr(ru_per_second)})"
        if isinstance(ru_per_second, bool) or not isinstance(ru_per_second, (int, float)):
            raise errors._UnknownArgument(
                f"{where}: RU per second is a number, not {type(ru_per_second).__name__}")
        try:
            pace = float(ru_per_second)
        except OverflowError:
            pace = math.inf
        if not math.isfinite(pace) or pace < 0:
            raise errors.UsageError(f"{where}: RU per second is a finite number, 0 or more")
        _e.ccopy_job_set_pace(self._handle(), pace)

    @property
    def tasks(self) -> list[Task]:
        """The planned tasks with their current state (empty before :meth:`plan`; after
        :meth:`close`, as they ended)."""
        if self._job is None:
            return list(self._final_tasks)
        job = self._job
        return [self._task(job, i) for i in range(_e.ccopy_job_task_count(job))]

    def task(self, index: int) -> Task:
        """Task ``index`` with its current state."""
        tasks = self._final_tasks if self._job is None else None
        n = len(tasks) if tasks is not None else _e.ccopy_job_task_count(self._job)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise errors.UsageError(f"{self.command} job: no task {index!r} (it has {n})")
        return tasks[index] if tasks is not None else self._task(self._job, index)

    @staticmethod
    def _task(job: Any, i: int) -> Task:
        info = _e.ccopy_task_info_t()
        _e.cosmocopy_job_task(job, i, info)
        window = info.kind == 0
        err = info.error
        return Task(
            index=i, database=info.database or "", collection=info.collection or "",
            kind="window" if window else "non-objectid",
            start=_utc(info.window.start) if window else None,
            end=_utc(info.window.end) if window else None,
            state=_STATES[info.state], documents=int(info.documents), bytes=int(info.bytes),
            stored_bytes=int(info.stored_bytes), sha256=info.sha256, data=info.data,
            partial=bool(info.partial),
            error=_error_from(err) if err.code else None,
            spec=_e.ccopy_job_task_json(job, i) or "")

    def _indices(self, tasks: Iterable[int | Task]) -> list[int]:
        out = []
        n = _e.ccopy_job_task_count(self._handle())
        for t in tasks:
            i = t.index if isinstance(t, Task) else t
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                raise errors.UsageError(f"{self.command} job: no task {i!r} (it has {n})")
            out.append(i)
        return out

    def run_tasks(self, tasks: Iterable[int | Task] | None = None) -> list[Task]:
        """Run some planned tasks (indices or :class:`Task` objects; None: every task) on the
        job's worker threads and wait. Done tasks are not run again, and a task given more than
        once runs once; failed or stopped ones are retried. Plans first when needed. Returns those tasks; raises the first failure (the
        task's own state and error stay readable)."""
        if tasks is not None and not isinstance(tasks, Iterable) or isinstance(tasks, (str, bytes)):
            raise errors.UsageError(f"{self.command} job: run_tasks() takes a list of tasks "
                                    f"(indices or Task objects), not {type(tasks).__name__}; "
                                    "run_task() runs one")
        self.plan()
        indices = None if tasks is None else self._indices(tasks)
        self._call(_e.cosmocopy_job_run_tasks, indices)
        if indices is None:
            return self.tasks
        return [self.task(i) for i in indices]

    def run_task(self, task: int | Task) -> Task:
        """Run one task (see :meth:`run_tasks`) and return it, done."""
        return self.run_tasks([task])[0]

    def finish(self) -> Result:
        """End the job: release the destination's lock, close connections, settle the result.
        Tasks never run are not an error; failed ones are (raised, with ``.result``)."""
        if self._finished:
            return self.result()
        self._finished = True
        try:
            self._call(_e.cosmocopy_job_finish)
        finally:
            self._final = self._result_now()
        return self._final

    def run(self) -> Result:
        """Run the job to the end: plan (unless done), every task not done, finish.

        Returns the :class:`Result`; raises a :class:`cosmocopy.Error` subclass when the job
        failed (its ``result`` says what did complete), the callback's exception when a
        progress callback raised, ``KeyboardInterrupt`` after Ctrl-C (the job cancelled)."""
        if self._finished:
            raise errors.UsageError(f"{self.command} job: already finished")
        self._planned = True
        self._finished = True
        try:
            self._call(_e.cosmocopy_job_run)
        finally:
            self._final = self._result_now()
        return self._final

    def cancel(self) -> None:
        """Ask the running job to stop (any thread). Windows in progress are abandoned; nothing
        incomplete is marked complete; the running call raises :class:`CancelledError`."""
        job = self._job
        if job is not None:
            _e.ccopy_job_cancel(job)

    def progress(self) -> Progress:
        """The latest progress snapshot. Any thread, any moment, callbacks included."""
        job = self._job
        if job is None:
            return self._final_progress or Progress(phase="done")
        p = _e.ccopy_progress_t()
        _e.cosmocopy_job_progress(job, p)
        return _progress_from(p)

    def _result_now(self) -> Result:
        text = _e.ccopy_job_summary_json(self._handle())
        return Result(json.loads(text))

    def result(self) -> Result:
        """The summary so far (status "running" until the job ends), or the final one."""
        if self._job is None or self._finished and self._final is not None:
            if self._final is None:
                raise errors.UsageError(f"{self.command} job: closed before it ran")
            return self._final
        return self._result_now()

    def close(self) -> None:
        """Free the job (finishing it first if it was planned and not finished, quietly)."""
        if self._job is None:
            return
        if self._driving.locked():
            raise errors.UsageError(f"{self.command} job: cannot close while it runs; cancel first")
        if self._planned and not self._finished:
            try:
                self.finish()
            except errors.Error:
                pass
        self._final_progress = self.progress()
        self._final_tasks = self.tasks
        if self._final is None and self._planned:
            self._final = self._result_now()
        job, self._job = self._job, None
        _e.cosmocopy_job_set_callbacks(job, None, None, 0)
        del job

    def __enter__(self) -> Job:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None and self._planned and not self._finished:
            self.finish()
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_job", None) is not None and not self._driving.locked():
                self.close()
        except Exception:  # noqa: BLE001 - never from a finaliser
            pass

    def __repr__(self) -> str:
        if self._job is None:
            state = "closed"
        elif self._finished:
            state = "finished"
        elif self._planned:
            state = f"planned, {_e.ccopy_job_task_count(self._job)} tasks"
        else:
            state = "new"
        return f"<cosmocopy.Job {self.command} ({state})>"


def run(command: str, progress: Callable[[Progress], object] | None,
        options: dict[str, Any]) -> Result:
    """Job(command, **options).run(), closed afterwards."""
    job = Job(command, progress=progress, **options)
    try:
        return job.run()
    finally:
        job.close()


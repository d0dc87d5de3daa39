"""Job control from Python: plan and inspect the tasks, run one, progress callbacks and
progress() from other threads, cancellation from a callback and from another thread, a
callback's exception and Ctrl-C stopping the job resumably, the GIL released while the engine
works, engine log lines in the logging module. Slow jobs go through the Cosmos proxy's RU
budget in front of the real FerretDB."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from datetime import datetime, timezone

import pytest
from bson import ObjectId

import backupcheck as bc
from pkgtest import HOUR, START


def slow(cosmos_proxy, ferretdb, window_args, ru_per_second=150):
    """window_args through a proxy that holds the reads to a small RU budget (a few seconds)."""
    proxy = cosmos_proxy(ferretdb, ru_per_second=ru_per_second)
    return proxy, dict(window_args, source=f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
                       parallel=1, batch_size=50)


def complete_windows(root, orders):
    return len(bc.read_backup(root).windows_of(orders.database.name, "orders")) if \
        root.exists() else 0


def test_plan_inspect_run_one_task_then_the_rest(cc, orders, window_args, tmp_path):
    with cc.Job("backup", to=tmp_path / "bk", **window_args) as job:
        assert repr(job) == "<cosmocopy.Job backup (new)>"
        tasks = job.plan()
        assert [t.kind for t in tasks] == ["window"] * 3
        assert [t.start.timestamp() for t in tasks] == [START, START + 4 * HOUR, START + 8 * HOUR]
        assert all(t.state == "pending" and t.database == orders.database.name and
                   t.collection == "orders" for t in tasks)
        assert '"collection"' in tasks[0].spec and tasks[0].to_dict()["state"] == "pending"
        done = job.run_task(1)
        assert done.state == "done" and done.documents == 400 and len(done.sha256) == 64
        assert [t.state for t in job.tasks] == ["pending", "done", "pending"]
        assert job.progress().windows_done == 1
        # only that window is in the catalog so far, and it is exact
        backup = bc.read_backup(tmp_path / "bk")
        assert [w.start_epoch for w in backup.windows_of(orders.database.name, "orders")] == \
            [START + 4 * HOUR]
        result = job.run()
    assert result.ok and result.windows_written == 3 and result.documents == 1200
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])
    # closed: the tasks stay readable as they ended
    assert [t.state for t in job.tasks] == ["done"] * 3 and job.task(2).documents == 400
    with pytest.raises(cc.UsageError, match="no task 7"):
        job.task(7)


def test_a_task_named_twice_runs_once(cc, orders, window_args, tmp_path):
    with cc.Job("backup", to=tmp_path / "bk", **window_args) as job:
        tasks = job.plan()
        ran = job.run_tasks([1, 1, tasks[1], 1, 0, 0])
        assert [t.index for t in ran] == [1, 1, 1, 1, 0, 0]
        assert [t.state for t in job.tasks] == ["done", "done", "pending"]
        assert job.progress().windows_done == 2 and job.progress().documents == 800
        result = job.run()
    assert result.ok and result.windows_written == 3 and result.documents == 1200
    assert len(result.windows) == 3
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])


def test_progress_callback_is_throttled_and_sees_the_job_move(cc, orders, window_args,
                                                             tmp_path):
    seen = []
    started = time.monotonic()
    result = cc.backup(to=tmp_path / "bk", progress=seen.append, batch_size=20,
                       **dict(window_args, parallel=1))
    elapsed = time.monotonic() - started
    assert result.ok
    assert seen and all(isinstance(p, cc.Progress) for p in seen)
    assert seen[-1].phase == "done" and seen[-1].windows_done == 3
    assert seen[-1].documents == 1200
    docs = [p.documents for p in seen]
    assert docs == sorted(docs)
    # about ten a second, plus phase changes
    assert len(seen) <= 10 * elapsed + 6, (len(seen), elapsed)


def test_cancel_from_a_callback_then_a_rerun_completes(cc, orders, window_args, tmp_path,
                                                       cosmos_proxy, ferretdb):
    _, args = slow(cosmos_proxy, ferretdb, window_args)
    job = cc.Job("backup", to=tmp_path / "bk", **args,
                 progress=lambda p: p.windows_done >= 1 and job.cancel())
    with pytest.raises(cc.CancelledError) as caught:
        job.run()
    assert caught.value.code_name == "ECANCELED"
    assert caught.value.result.status == "canceled"
    partial = complete_windows(tmp_path / "bk", orders)
    assert 1 <= partial < 3
    bc.assert_windows_match_source(bc.read_backup(tmp_path / "bk"), orders)
    job.close()
    rerun = cc.backup(to=tmp_path / "bk", **window_args)
    assert rerun.windows_already_complete == partial and rerun.documents == 400 * (3 - partial)
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])


def test_cancel_and_progress_from_another_thread(cc, orders, window_args, tmp_path,
                                                 cosmos_proxy, ferretdb):
    _, args = slow(cosmos_proxy, ferretdb, window_args)
    job = cc.Job("backup", to=tmp_path / "bk", **args)
    snapshots = []

    def watch():
        while True:
            p = job.progress()
            snapshots.append(p)
            if p.documents >= 100:
                job.cancel()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with pytest.raises(cc.CancelledError):
        job.run()
    watcher.join(10)
    assert not watcher.is_alive()
    assert snapshots[-1].documents >= 100
    assert complete_windows(tmp_path / "bk", orders) < 3
    assert "canceled" in job.result().status
    job.close()


def test_a_callback_exception_is_reraised_with_its_traceback_and_the_job_resumes(
        cc, orders, window_args, tmp_path, cosmos_proxy, ferretdb):
    _, args = slow(cosmos_proxy, ferretdb, window_args)

    class Enough(Exception):
        pass

    def progress(p):
        if p.windows_done >= 1:
            raise Enough(f"stop after {p.windows_done} window")

    with pytest.raises(Enough, match="stop after 1 window") as caught:
        cc.backup(to=tmp_path / "bk", progress=progress, **args)
    frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
    assert "progress" in frames  # the callback's own frame is in the traceback
    partial = complete_windows(tmp_path / "bk", orders)
    assert 1 <= partial < 3
    rerun = cc.backup(to=tmp_path / "bk", **window_args)
    assert rerun.windows_already_complete == partial and rerun.documents == 400 * (3 - partial)
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])


def test_ctrl_c_cancels_resumably_and_raises_keyboard_interrupt(cc, orders, window_args,
                                                               tmp_path, cosmos_proxy, ferretdb):
    _, args = slow(cosmos_proxy, ferretdb, window_args)
    job = cc.Job("backup", to=tmp_path / "bk", **args)

    def interrupt():
        while job.progress().documents < 100:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        job.run()
    assert time.monotonic() - started < 30
    assert job.result().status == "canceled"
    job.close()
    assert complete_windows(tmp_path / "bk", orders) < 3
    bc.assert_windows_match_source(bc.read_backup(tmp_path / "bk"), orders)


def test_keyboard_interrupt_raised_in_a_callback_cancels(cc, orders, window_args, tmp_path):
    def progress(p):
        if p.phase == "copying":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cc.backup(to=tmp_path / "bk", progress=progress, batch_size=10,
                  **dict(window_args, parallel=1))


def test_the_gil_is_released_while_the_engine_works(cc, orders, window_args, tmp_path,
                                                    cosmos_proxy, ferretdb):
    _, args = slow(cosmos_proxy, ferretdb, window_args)
    ticks = []
    running = threading.Event()
    stop = threading.Event()

    def count():
        running.set()
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.002)

    t = threading.Thread(target=count)
    t.start()
    running.wait()
    started = time.monotonic()
    cc.backup(to=tmp_path / "bk", **args)
    ended = time.monotonic()
    stop.set()
    t.join()
    during = [x for x in ticks if started <= x <= ended]
    assert ended - started > 1.0, "the backup was too quick to tell"
    # the other thread kept running all along: many ticks, no long pause
    assert len(during) > (ended - started) / 0.01
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert max(gaps) < 0.5


def test_a_callback_that_calls_progress_and_logs_does_not_deadlock(cc, orders, window_args,
                                                                  tmp_path, caplog):
    calls = []

    def progress(p):
        calls.append(job.progress().documents)
        logging.getLogger("cosmocopy").info("callback at %d", p.documents)

    job = cc.Job("backup", to=tmp_path / "bk", progress=progress, **window_args)
    with caplog.at_level(logging.INFO, logger="cosmocopy"):
        finished = []
        t = threading.Thread(target=lambda: finished.append(job.run()))
        t.start()
        t.join(60)
    assert not t.is_alive(), "deadlock"
    assert finished and finished[0].ok and calls
    job.close()


def test_engine_log_lines_go_to_the_cosmocopy_logger(cc, orders, tmp_path, caplog, ferretdb,
                                                     cosmos_proxy):
    # the first charged request of planning is cut off mid-reply: the engine retries and says
    # so; a document whose _id is not an ObjectId is out of sight of incremental runs: a warning
    orders.insert_one({"_id": "not-an-objectid", "n": 1})
    proxy = cosmos_proxy(ferretdb, drop_on={1})
    with caplog.at_level(logging.INFO, logger="cosmocopy"):
        result = cc.backup(source=f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
                           db=orders.database.name, collection="orders", incremental=True,
                           to=tmp_path / "bk", retry_base_ms=10)
    assert result.ok and result.retries >= 1
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "cosmocopy"]
    assert any(level == logging.INFO and "retrying in" in m for level, m in records), records
    assert (logging.WARNING, f"{orders.database.name}.orders: 1 document has an _id that is not "
            "an ObjectId; incremental runs cannot see it (a full run copies it)") in records


def test_retries_while_copying_are_told_to_the_logger_as_they_happen(
        cc, orders, mongo, tmp_path, caplog, ferretdb, cosmos_proxy, db_name):
    # the 8th charged request (the first window's first read) and the target's 3rd (its first
    # insert) are cut off mid-reply; throttling answers are counted, not told
    proxy = cosmos_proxy(ferretdb, drop_on={8})
    args = dict(source=f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
                db=orders.database.name, collection="orders", full=True, retry_base_ms=10,
                parallel=1, step="4h")
    with caplog.at_level(logging.INFO, logger="cosmocopy"):
        result = cc.backup(to=tmp_path / "bk", **args)
    told = [r.getMessage() for r in caplog.records if r.name == "cosmocopy" and
            r.levelno == logging.INFO and r.getMessage().startswith("retrying in ")]
    assert result.ok and result.retries == 1 and len(told) == 1, told
    assert f"(retry 1 of 10): reading window {orders.database.name}.orders [" in told[0], told
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])

    target = cosmos_proxy(ferretdb, drop_on={3}, ru_per_second=100000)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cosmocopy"):
        result = cc.replicate(**dict(args, source=ferretdb.uri), target=target.uri(),
                              target_db=f"{db_name}_told")
    told = [r.getMessage() for r in caplog.records if r.name == "cosmocopy" and
            r.getMessage().startswith("retrying in ")]
    assert result.ok and result.documents == 1200, result
    assert any(f"documents to {db_name}_told.orders: " in m for m in told), told
    copied = mongo[f"{db_name}_told"].orders
    assert sorted(d["_id"] for d in copied.find({}, {"_id": 1})) == \
        sorted(d["_id"] for d in orders.find({}, {"_id": 1}))


def test_a_job_whose_planning_failed_says_so_when_planned_again(cc, tmp_path):
    job = cc.Job("backup", source="mongodb://127.0.0.1:1/", db="d", to=tmp_path / "bk",
                 from_="2026-01-01", until="2026-01-02", server_timeout_ms=300)
    assert job.progress().elapsed_seconds == 0  # not started
    with pytest.raises(cc.ConnectionError) as first:
        job.plan()
    # not an empty plan that says there is nothing to do
    with pytest.raises(cc.UsageError, match=r"backup job: its planning failed \(.*127\.0\.0\.1:1"
                       r".*\); make a new job to try again") as again:
        job.plan()
    assert again.value.__cause__ is first.value
    with pytest.raises(cc.UsageError):
        job.run_tasks()
    # a finished job's figures stay as they ended
    ended = job.progress().elapsed_seconds
    time.sleep(0.2)
    assert 0 < ended == job.progress().elapsed_seconds


def test_run_tasks_takes_a_list_of_tasks(cc, orders, window_args, tmp_path):
    with cc.Job("backup", to=tmp_path / "bk", **window_args) as job:
        for wrong in (1, "0", None.__class__):
            with pytest.raises(cc.UsageError, match="run_tasks\\(\\) takes a list of tasks"):
                job.run_tasks(wrong)
        assert [t.index for t in job.run_tasks((i for i in [2]))] == [2]
        assert job.run().windows_written == 3


def test_job_state_errors(cc, orders, window_args, tmp_path):
    job = cc.Job("backup", to=tmp_path / "bk", **window_args)
    assert job.tasks == []
    result = job.run()
    assert result.ok
    with pytest.raises(cc.UsageError, match="already finished"):
        job.run()
    assert job.result() is result or job.result() == result
    job.close()
    job.close()  # twice is fine
    assert repr(job) == "<cosmocopy.Job backup (closed)>"
    with pytest.raises(cc.UsageError, match="closed"):
        job.run_task(0)
    with pytest.raises(cc.UsageError, match="unknown command 'dump'"):
        cc.Job("dump")


def cc_time(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_plan_tasks_runs_another_jobs_windows_without_its_lock(cc, orders, window_args, tmp_path):
    """A distributed runner's worker: the planning job holds the destination's lock; a job of
    the same options runs exactly the given windows without it, and skips completed ones."""
    to = tmp_path / "bk"
    with cc.Job("backup", to=to, **window_args) as planner:
        tasks = planner.plan()
        with pytest.raises(cc.BusyError):
            cc.backup(to=to, **window_args)
        with cc.Job("backup", to=to, **window_args) as helper:
            got = helper.plan_tasks([tasks[1].spec])
            assert [(t.start, t.end) for t in got] == [(tasks[1].start, tasks[1].end)]
            helper.run_tasks()
            result = helper.finish()
        assert result.ok and result.windows_written == 1 and result.documents == 400
        with cc.Job("backup", to=to, **window_args) as again:
            assert again.plan_tasks([tasks[1]]) == []
            assert again.finish().windows_already_complete == 1
        other = tasks[0].spec.replace(orders.database.name, "elsewhere")
        with pytest.raises(cc.UsageError, match="task 0: needs database"):
            cc.Job("backup", to=to, **window_args).plan_tasks([other])
        with pytest.raises(cc.UsageError, match="not a JSON array of tasks"):
            cc.Job("backup", to=to, **window_args).plan_tasks(["{oops"])
        # a task of a collection this job does not copy is no task a job of its options planned
        stray = tasks[0].spec.replace('"collection":"orders"', '"collection":"users"')
        assert stray != tasks[0].spec
        with pytest.raises(cc.UsageError, match=r"task 0: collection users is not one this job "
                                                r"copies \(collection=\)"):
            cc.Job("backup", to=to, **window_args).plan_tasks([stray])
        # a window across a completed one's end: copied, two windows would overlap
        middle = tasks[1].start + (tasks[1].end - tasks[1].start) / 2
        across = tasks[1].spec.replace(cc_time(tasks[1].start), cc_time(middle)).replace(
            cc_time(tasks[1].end), cc_time(tasks[2].end))
        with pytest.raises(cc.UsageError, match="task 0: .* overlaps a completed window without "
                                                "covering it"):
            cc.Job("backup", to=to, **window_args).plan_tasks([across])
        for wrong in (None, 5, tasks[0].spec):
            with pytest.raises(cc.UsageError, match=r"plan_tasks\(\) takes a list of task specs"):
                cc.Job("backup", to=to, **window_args).plan_tasks(wrong)
    backup = bc.read_backup(to)
    assert [w.start_epoch for w in backup.windows_of(orders.database.name, "orders")] == \
        [START + 4 * HOUR]


def test_set_pace_starts_the_governor_at_a_learnt_pace_capped_by_max_ru(cc, orders, window_args,
                                                                       tmp_path):
    with cc.Job("backup", to=tmp_path / "a", **window_args) as job:
        assert job.progress().ru_pace == 0  # adaptive: unpaced until throttled
        job.set_pace(250.0)
        assert job.progress().ru_pace == 250.0
    with cc.Job("backup", to=tmp_path / "b", max_ru=100, **window_args) as job:
        job.set_pace(250.0)
        assert job.progress().ru_pace == 100.0
        job.plan()
        with pytest.raises(cc.UsageError, match="before planning"):
            job.set_pace(50.0)


def test_upserts_into_a_collection_found_empty_still_replace_what_was_written_since(
        cc, orders, window_args, mongo, ferretdb, db_name):
    """An upsert replicate into an empty collection writes with inserts (cheaper); a document
    another writer put there since, under an _id the source has, is still replaced."""
    target = mongo[f"{db_name}_copy"].orders
    with cc.Job("replicate", target=ferretdb.uri, target_db=target.database.name,
                write_mode="upsert", **dict(window_args, parallel=1)) as job:
        job.plan()
        assert job.run_task(0).state == "done"
        later = list(orders.find({"_id": {"$gte": ObjectId.from_datetime(
            datetime.fromtimestamp(START + 8 * HOUR, timezone.utc))}}).sort("_id", 1).limit(3))
        target.insert_many([{"_id": d["_id"], "stale": True} for d in later] +
                           [{"_id": "the application's own", "kept": True}])
        result = job.run()
    assert result.ok and result.documents == 1200
    for d in later:
        assert target.find_one({"_id": d["_id"]}) == d
    assert target.find_one({"_id": "the application's own"}) == \
        {"_id": "the application's own", "kept": True}
    assert target.count_documents({}) == 1201
    assert sorted(d["_id"] for d in target.find({"_id": {"$type": "objectId"}}, {"_id": 1})) == \
        sorted(d["_id"] for d in orders.find({}, {"_id": 1}))

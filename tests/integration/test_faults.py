"""Bad input gets a clear error and loses nothing.

Each case is tried as a new user would meet it: the exit code, the message,
and then the folder, read by the independent reader: whatever is marked
complete is complete and exact, and a rerun makes the folder match the
source."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import subprocess
import time

import pymongo
import pytest

import backupcheck as bc
import clirun
import datagen

DAY = 86400
HOUR = 3600
# Midnight UTC three days ago: old enough for the settle lag.
SLOW_START = (int(time.time()) // DAY - 3) * DAY
# A run that lasts several seconds at --parallel 1 (about half a second a
# window), yet whose rerun stays short.
SLOW_HOURS = 12
SLOW_DOCS = 2000


def load(coll, hours: int, count: int, doc_size: int = 1024, seed: int = 0):
    """``count`` documents spread over ``hours`` one-hour windows from
    SLOW_START. Each window query makes FerretDB scan the whole collection,
    so 2,000 documents make each window take a good fraction of a second."""
    datagen.insert_spread(coll, SLOW_START, SLOW_START + hours * HOUR, count,
                          doc_size=doc_size, seed=seed, keep_ids=False)
    return SLOW_START, SLOW_START + hours * HOUR


def range_args(coll_name: str, start: int, end: int, *extra):
    return ["--collection", coll_name, "--step", "1h", "--from", bc.rfc3339(start),
            "--to", bc.rfc3339(end), *extra]


def slow_args(coll_name: str, start: int, end: int):
    """One window at a time, in small batches: a run that lasts."""
    return range_args(coll_name, start, end, "--parallel", "1", "--batch-size", "100")


def window_manifests(dest, db, coll):
    folder = dest / db / coll
    if not folder.is_dir():
        return []
    return [p for p in folder.glob("*.manifest.json") if not p.name.startswith(".tmp.")
            and p.name != "non-objectid.manifest.json"]


def data_temps(dest, db, coll):
    folder = dest / db / coll
    if not folder.is_dir():
        return []
    return [p for p in folder.glob(".tmp.*") if ".manifest.json" not in p.name
            and "metadata" not in p.name]


def incomplete_windows(backup, db, coll, start, end):
    done = {(w.start_epoch, w.end_epoch) for w in backup.windows_of(db, coll, "window")}
    return [(s, s + HOUR) for s in range(start, end, HOUR) if (s, s + HOUR) not in done]


def names_a_window(message: str, windows) -> bool:
    for s, e in windows:
        if bc.rfc3339(s) in message or bc.compact(s) in message:
            return True
    return False


def message_of(res: clirun.Result) -> str:
    text = res.stderr
    with contextlib.suppress(AssertionError):
        err = res.summary.get("error") or {}
        text += "\n" + (err.get("message") or "") + "\n" + "\n".join(res.summary.get("errors", []))
    return text


def assert_nothing_marked_complete(root):
    assert bc.manifests(root) == [], f"manifests written: {bc.manifests(root)}"


@pytest.fixture(scope="module")
def slow(ferretdb):
    """SLOW_DOCS documents of 1 KB over SLOW_HOURS hours on the session server."""
    client = ferretdb.client()
    db = client[f"slow_{os.getpid()}_{int(time.time())}"]
    start, end = load(db.orders, SLOW_HOURS, SLOW_DOCS, seed=51)
    yield db, start, end
    with contextlib.suppress(pymongo.errors.PyMongoError):
        client.drop_database(db.name)
    client.close()


# ---------------------------------------------------------------- connection


@pytest.mark.parametrize("uri", ["mongo://127.0.0.1:27017/", "mongodb://127.0.0.1:notaport/",
                                 "mongodb://", "127.0.0.1:27017",
                                 "mongodb://127.0.0.1:27017/?connectTimeoutMS=abc"])
def test_malformed_connection_string(tmp_path, uri):
    res = clirun.backup(uri, "shop", tmp_path / "bk", timeout=30)
    assert res.rc == 2, res.explain()
    assert "malformed" in res.stderr and "connection string" in res.stderr, res.explain()
    assert res.elapsed < 5, res.explain()
    assert_nothing_marked_complete(tmp_path)


@pytest.mark.parametrize("kind", ["closed-port", "silent-listener"])
def test_host_that_does_not_answer_fails_in_bounded_time_naming_it(tmp_path, kind):
    with contextlib.ExitStack() as stack:
        if kind == "closed-port":
            port = clirun.closed_port()
        else:
            port = stack.enter_context(clirun.silent_listener())
        res = clirun.backup(f"mongodb://127.0.0.1:{port}/", "shop", tmp_path / "bk",
                            "--server-timeout-ms", "2000", timeout=60)
    assert res.rc == 1, res.explain()
    assert res.elapsed < 30, res.explain()
    assert f"127.0.0.1:{port}" in res.stderr, res.explain()
    assert res.summary["status"] == "failed"
    assert_nothing_marked_complete(tmp_path)


def test_database_that_does_not_exist(ferretdb, tmp_path):
    res = clirun.backup(ferretdb.uri, "no_such_db_here", tmp_path / "bk", timeout=60)
    assert res.rc == 1, res.explain()
    assert "no_such_db_here" in res.stderr and "not found" in res.stderr, res.explain()
    assert_nothing_marked_complete(tmp_path)


def test_collection_that_does_not_exist(ferretdb, mongo, db_name, tmp_path):
    datagen.insert_spread(mongo[db_name].orders, SLOW_START, SLOW_START + HOUR, 20, seed=52)
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk", "--collection", "no_such_coll",
                        timeout=60)
    assert res.rc == 1, res.explain()
    assert "no_such_coll" in res.stderr and "not found" in res.stderr, res.explain()
    assert_nothing_marked_complete(tmp_path)


# ---------------------------------------------------------------- the folder


def test_folder_under_a_regular_file_cannot_be_written(ferretdb, slow, tmp_path):
    db, start, end = slow
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    dest = afile / "sub"
    res = clirun.backup(ferretdb.uri, db.name, dest, *range_args("orders", start, start + HOUR),
                        timeout=60)
    assert res.rc != 0, res.explain()
    assert res.rc in (1, 2), res.explain()
    assert str(afile) in res.stderr, res.explain()
    assert re.search(r"not a (folder|directory)", res.stderr, re.I), res.explain()
    assert afile.read_text() == "not a folder\n"
    assert_nothing_marked_complete(tmp_path)


@contextlib.contextmanager
def tmpfs(path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        msg = (p.stderr or p.stdout).strip()
        if "permitted" in msg or "permission" in msg.lower() or os.geteuid() != 0:
            pytest.skip(f"cannot mount a tmpfs here (EPERM: {msg})")
        raise RuntimeError(f"mount tmpfs on {path} failed: {msg}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path, opts: str):
    subprocess.run(["mount", "-o", f"remount,{opts}", str(path)], check=True,
                   capture_output=True)


def test_read_only_folder_cannot_be_written(ferretdb, slow, tmp_path):
    db, start, end = slow
    with tmpfs(tmp_path / "ro", "1m") as mnt:
        remount(mnt, "ro")
        res = clirun.backup(ferretdb.uri, db.name, mnt / "bk",
                            *range_args("orders", start, start + HOUR), timeout=60)
        assert res.rc != 0, res.explain()
        assert str(mnt) in res.stderr, res.explain()
        assert os.strerror(errno.EROFS) in res.stderr, res.explain()
        assert_nothing_marked_complete(mnt)


def test_disk_filling_up_mid_window(ferretdb, mongo, db_name, tmp_path):
    coll = mongo[db_name].big
    start, end = load(coll, 8, 2000, seed=53)  # ~2 MB in eight windows of ~256 KB
    with tmpfs(tmp_path / "small", "512k") as mnt:
        dest = mnt / "bk"
        res = clirun.backup(ferretdb.uri, db_name, dest, *range_args("big", start, end),
                            timeout=120)
        assert res.rc == 1, res.explain()
        assert "No space left on device" in res.stderr, res.explain()
        assert res.summary["windows_failed"] >= 1
        partial = bc.read_backup(dest)  # every manifest present is valid
        assert len(partial.windows_of(db_name, "big", "window")) < 8
        bc.assert_windows_match_source(partial, coll)

        remount(mnt, "size=64m")
        again = clirun.backup(ferretdb.uri, db_name, dest, *range_args("big", start, end),
                              timeout=120)
        assert again.rc == 0, again.explain()
        bc.assert_backup_matches(dest, mongo[db_name], ["big"])
        assert bc.leftover_temps(dest) == []


# ---------------------------------------------------------------- signals


def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(ferretdb, slow, tmp_path):
    db, start, end = slow
    dest = tmp_path / "bk"
    job = clirun.start_backup(ferretdb.uri, db.name, dest, *slow_args("orders", start, end))
    try:
        clirun.wait_for(lambda: window_manifests(dest, db.name, "orders"), 60,
                        what="the first completed window")
        job.proc.send_signal(signal.SIGINT)
        t_sig = time.monotonic()
        res = job.wait(timeout=30)
    finally:
        job.kill()
    assert time.monotonic() - t_sig < 15, res.explain()
    assert res.rc == 1, res.explain()
    assert re.search(r"cancel|interrupt", message_of(res), re.I), res.explain()
    assert bc.leftover_temps(dest) == []
    partial = bc.read_backup(dest)
    done = len(partial.windows_of(db.name, "orders", "window"))
    assert 1 <= done < SLOW_HOURS, f"{done} windows complete: the run was not interrupted"
    bc.assert_windows_match_source(partial, db.orders)

    again = clirun.backup(ferretdb.uri, db.name, dest, *range_args("orders", start, end))
    assert again.rc == 0, again.explain()
    assert again.summary["windows_already_complete"] == done
    assert again.summary["windows_written"] == SLOW_HOURS - done
    bc.assert_same_docs(bc.read_backup(dest).docs(db.name, "orders"),
                        bc.source_docs(db.orders, bc.oid_time_in(start, end)), "after resume")


def test_sigkill_mid_window_then_rerun(ferretdb, slow, tmp_path):
    db, start, end = slow
    dest = tmp_path / "bk"
    job = clirun.start_backup(ferretdb.uri, db.name, dest, *slow_args("orders", start, end))
    try:
        clirun.wait_for(lambda: window_manifests(dest, db.name, "orders"), 60,
                        what="the first completed window")
        clirun.wait_for(lambda: data_temps(dest, db.name, "orders"), 30,
                        what="a window being written")
        job.proc.send_signal(signal.SIGKILL)
        res = job.wait(timeout=10)
    finally:
        job.kill()
    assert res.rc == -signal.SIGKILL
    stale = bc.leftover_temps(dest)
    print("stale:", stale)
    assert stale, "killed mid-window, yet no temporary file was left to clean up"
    partial = bc.read_backup(dest)
    done = len(partial.windows_of(db.name, "orders", "window"))
    assert done < SLOW_HOURS
    bc.assert_windows_match_source(partial, db.orders)

    again = clirun.backup(ferretdb.uri, db.name, dest, *range_args("orders", start, end))
    assert again.rc == 0, again.explain()
    assert again.summary["windows_already_complete"] == done
    assert not any(p.exists() for p in stale), "stale temporary files were not removed"
    assert bc.leftover_temps(dest) == []
    final = bc.read_backup(dest)  # also: no _id twice, no overlapping windows
    assert len(final.windows_of(db.name, "orders", "window")) == SLOW_HOURS
    bc.assert_same_docs(final.docs(db.name, "orders"),
                        bc.source_docs(db.orders, bc.oid_time_in(start, end)), "after rerun")


def test_second_backup_into_the_same_folder_is_refused(ferretdb, slow, tmp_path, cosmos_proxy):
    db, start, end = slow
    dest = tmp_path / "bk"
    # 300 ms more for every find and getMore: the first job surely outlasts the second's try,
    # however fast or loaded the machine
    lagging = cosmos_proxy(ferretdb, latency_ms=300)
    job = clirun.start_backup(lagging.uri(), db.name, dest, *slow_args("orders", start, end))
    try:
        clirun.wait_for(lambda: window_manifests(dest, db.name, "orders"), 60,
                        what="the first completed window")
        second = clirun.backup(ferretdb.uri, db.name, dest, *range_args("orders", start, end),
                               timeout=60)
        still_running = job.running()
        first = job.wait(timeout=120)
    finally:
        job.kill()
    assert still_running, "the first job ended before the second one tried: test too fast"
    assert second.rc == 1, second.explain()
    assert re.search(r"another .*job|lock", second.stderr, re.I), second.explain()
    assert str(dest) in second.stderr, second.explain()
    # The refused job disturbed nothing: the first one finished exactly.
    assert first.rc == 0, first.explain()
    assert bc.leftover_temps(dest) == []
    bc.assert_same_docs(bc.read_backup(dest).docs(db.name, "orders"),
                        bc.source_docs(db.orders, bc.oid_time_in(start, end)), "first job")


# ---------------------------------------------------------------- the server goes away


def test_server_killed_and_restarted_mid_backup(fresh_ferretdb, tmp_path):
    client = fresh_ferretdb.client()
    coll = client.shop.orders
    start, end = load(coll, SLOW_HOURS, SLOW_DOCS, seed=54)
    dest = tmp_path / "bk"
    job = clirun.start_backup(fresh_ferretdb.uri, "shop", dest, *slow_args("orders", start, end),
                              "--retry-base-ms", "200", "--retry-max-delay-ms", "2000")
    try:
        clirun.wait_for(lambda: window_manifests(dest, "shop", "orders"), 60,
                        what="the first completed window")
        fresh_ferretdb.kill()
        time.sleep(1.0)
        fresh_ferretdb.start()
        res = job.wait(timeout=180)
    finally:
        job.kill()
    print(res.explain())
    assert res.rc in (0, 1), res.explain()
    partial = bc.read_backup(dest)
    if res.rc == 1:  # failed cleanly: says which window
        assert names_a_window(message_of(res),
                              incomplete_windows(partial, "shop", "orders", start, end)), \
            res.explain()
    assert bc.leftover_temps(dest) == []
    bc.assert_windows_match_source(partial, coll)

    again = clirun.backup(fresh_ferretdb.uri, "shop", dest, *range_args("orders", start, end))
    assert again.rc == 0, again.explain()
    final = bc.read_backup(dest)
    assert len(final.windows_of("shop", "orders", "window")) == SLOW_HOURS
    bc.assert_same_docs(final.docs("shop", "orders"), bc.source_docs(coll), "after restart")
    client.close()


def test_server_down_longer_than_the_retry_budget(fresh_ferretdb, tmp_path):
    client = fresh_ferretdb.client()
    coll = client.shop.orders
    start, end = load(coll, 6, SLOW_DOCS, seed=55)
    dest = tmp_path / "bk"
    job = clirun.start_backup(fresh_ferretdb.uri, "shop", dest,
                              *slow_args("orders", start, end),
                              "--retry-budget", "2", "--retry-base-ms", "100",
                              "--retry-max-delay-ms", "200", "--server-timeout-ms", "1000")
    try:
        clirun.wait_for(lambda: window_manifests(dest, "shop", "orders"), 60,
                        what="the first completed window")
        fresh_ferretdb.kill()
        t_kill = time.monotonic()
        res = job.wait(timeout=120)
    finally:
        job.kill()
    assert res.rc == 1, res.explain()
    assert time.monotonic() - t_kill < 60, res.explain()
    partial = bc.read_backup(dest)
    missing = incomplete_windows(partial, "shop", "orders", start, end)
    assert missing, res.explain()
    msg = message_of(res)
    assert names_a_window(msg, missing), res.explain()
    assert re.search(r"after 2 retries", msg), res.explain()
    assert bc.leftover_temps(dest) == []
    fresh_ferretdb.start()
    bc.assert_windows_match_source(partial, coll)

    again = clirun.backup(fresh_ferretdb.uri, "shop", dest, *range_args("orders", start, end))
    assert again.rc == 0, again.explain()
    bc.assert_same_docs(bc.read_backup(dest).docs("shop", "orders"), bc.source_docs(coll),
                        "after the server came back")
    client.close()

"""Incremental runs that find nothing new: the catalog stays without a hole, and the folder does
not fill up with empty windows, one run after another."""

from __future__ import annotations

import time

import backupcheck as bc
import clirun
import datagen

DAY = 86400


def _ok(res: clirun.Result) -> dict:
    assert res.rc == 0, res.explain()
    return res.summary


def _files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _incremental(ferretdb, db_name, dest, settle_lag: str) -> dict:
    return _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "1d",
                             "--settle-lag", settle_lag, "--parallel", "4"))


def test_incremental_runs_with_nothing_new_write_nothing_and_leave_no_gap(
        ferretdb, mongo, db_name, tmp_path):
    coll = mongo[db_name].events
    now = int(time.time())
    datagen.insert_spread(coll, now - 3 * DAY, now - 2 * DAY, 200, doc_size=256, seed=81)
    dest = tmp_path / "bk"
    _ok(clirun.backup(ferretdb.uri, db_name, dest, "--step", "1d", "--settle-lag", "3h",
                      "--parallel", "4"))
    first_end = max(w.end_epoch for w in bc.read_backup(dest).windows_of(db_name, "events",
                                                                           "window"))
    assert first_end >= now - 3 * 3600

    # each run looks at an hour in which nothing was created: [now-3h, now-2h), [now-2h, now-1h);
    # it writes no file at all (it once wrote --parallel empty windows, then one)
    for lag in ("2h", "1h"):
        before = _files(dest)
        inc = _incremental(ferretdb, db_name, dest, lag)
        assert inc["documents"] == 0 and inc["windows_written"] == 0, inc
        assert inc["windows"] == [], inc["windows"]
        assert _files(dest) == before

    # no hole: the windows follow each other from the first to the last
    spans = sorted((w.start_epoch, w.end_epoch) for w in bc.read_backup(dest).windows_of(
        db_name, "events", "window"))
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), spans
    assert spans[-1][1] == first_end
    bc.assert_backup_matches(dest, mongo[db_name])

    # restore's gap check and verify read the same coverage
    target_db = db_name + "_r"
    try:
        res = clirun.run("restore", "--from", f"dir:{dest}", "--to", ferretdb.uri, "--db", db_name,
                         "--to-db", target_db, "--json")
        assert res.rc == 0, res.explain()
        assert mongo[target_db].events.count_documents({}) == 200
    finally:
        mongo.drop_database(target_db)
    res = clirun.run("verify", "--source", ferretdb.uri, "--db", db_name, "--backup", f"dir:{dest}",
                     "--json")
    assert res.rc == 0, res.explain()

    # a window that does hold documents is still cut for the four workers
    last_end = spans[-1][1]
    ids = datagen.insert_spread(coll, last_end + 60, int(time.time()) - 60, 40, doc_size=256, seed=82)
    inc = _incremental(ferretdb, db_name, dest, "0s")
    assert inc["documents"] == 40
    assert len(inc["windows"]) >= 4, inc["windows"]
    assert {bc.id_key(i) for i in ids} <= {k for w in bc.read_backup(dest).windows_of(
        db_name, "events", "window") for k, _ in w.docs}
    bc.assert_backup_matches(dest, mongo[db_name])

"""`cosmocopy replicate` (and `verify` of a replica) from FerretDB to FerretDB: a second
database of the session server, or a server of its own where a separate target matters, with
the Cosmos imitation (tests/support/cosmosproxy.py) in front of either side for latency,
throttling, partial bulk writes and documents too large for the target.

What the engine wrote is read back with pymongo: the target collection must hold the source's
documents byte for byte (the raw BSON, so field order counts), and the catalog collection
``cosmocopy`` of the target database one entry per completed window, whose count, size, first
and last _id and SHA-256 are recomputed here from the source's documents of that window."""

from __future__ import annotations

import hashlib
import random
import signal
import time

import bson
import pymongo
import pytest
from bson import ObjectId

import backupcheck as bc
import clirun
import datagen

DAY = 86400
HOUR = 3600
START = (int(time.time()) // DAY - 4) * DAY  # a day boundary four days ago
SECRET = "SuperSecret123"

CATALOG = "cosmocopy"
CATALOG_KEYS = {
    "_id", "target_collection", "format_version", "kind", "database", "collection", "window",
    "documents", "bytes", "stored_bytes", "data", "sha256", "first_id", "last_id", "format",
    "compression", "engine_version", "completed_at",
}


# ---------------------------------------------------------------- helpers


@pytest.fixture
def target_db(mongo, db_name):
    """A second database on the session server, dropped afterwards."""
    name = db_name + "_r"
    yield mongo[name]
    try:
        mongo.drop_database(name)
    except pymongo.errors.PyMongoError:
        pass


def replicate(source: str, db: str, target: str, *extra, json_summary: bool = True,
              timeout: float = 180) -> clirun.Result:
    args = ["replicate", "--source", source, "--db", db, "--target", target, *extra]
    if json_summary:
        args.append("--json")
    return clirun.run(*args, timeout=timeout)


def span_args(start: int, end: int, step: str = "1h", parallel: int = 2) -> list:
    """[start, end) in windows of ``step``; with at least ``parallel`` windows none is cut into
    sub-windows, so the catalog holds exactly these windows."""
    return ["--from", bc.rfc3339(start), "--to", bc.rfc3339(end), "--step", step,
            "--parallel", str(parallel)]


def ok(res: clirun.Result) -> dict:
    assert res.rc == 0, res.explain()
    s = res.summary
    assert s["command"] == "replicate", res.explain()
    assert s["status"] == "ok" and s["error"] is None, res.explain()
    assert s["windows_failed"] == 0 and s["errors"] == [], res.explain()
    assert s["documents_rejected"] == 0 and s["rejected"] == [], res.explain()
    return s


def assert_same(target_coll, source_coll, label: str = "target") -> None:
    """The target collection holds exactly the source's documents, byte for byte."""
    bc.assert_same_docs(bc.source_docs(target_coll), bc.source_docs(source_coll), label)


def objectid_docs(coll) -> list:
    """The collection's documents with an ObjectId _id, as RawBSONDocuments in _id order."""
    docs = coll.with_options(codec_options=bc.RAW).find({})
    return sorted((d for d in docs if isinstance(d["_id"], ObjectId)), key=lambda d: d["_id"])


def catalog(tdb, target_coll: str | None = None) -> list[dict]:
    """The catalog entries (of one target collection), by window start."""
    query = {} if target_coll is None else {"target_collection": target_coll}
    entries = list(tdb[CATALOG].find(query))
    return sorted(entries, key=lambda e: (e["kind"] != "window",
                                          (e["window"] or {}).get("start_epoch", 0)))


def spans(entries) -> list[tuple[int, int]]:
    return [(e["window"]["start_epoch"], e["window"]["end_epoch"]) for e in entries
            if e["kind"] == "window"]


def assert_catalog(entries, source_coll, tdb, target_coll: str) -> list[tuple[int, int]]:
    """Every entry describes exactly the source's documents of its window, as a backup's
    manifest of that window would; windows do not overlap. Returns their spans in order."""
    source = objectid_docs(source_coll)
    db, coll = source_coll.database.name, source_coll.name
    assert entries, "no catalog entry"
    for e in entries:
        where = f"catalog entry {e['_id']!r}"
        assert set(e) == CATALOG_KEYS, f"{where}: keys {sorted(set(e) ^ CATALOG_KEYS)} differ"
        assert e["kind"] == "window", where
        w = e["window"]
        s, t = w["start_epoch"], w["end_epoch"]
        assert s < t, where
        assert e["_id"] == f"{target_coll}|{db}.{coll}|{s}-{t}", where
        assert (w["start"], w["end"]) == (bc.rfc3339(s), bc.rfc3339(t)), where
        assert (e["target_collection"], e["database"], e["collection"]) == (target_coll, db, coll)
        assert e["data"] == f"{tdb.name}.{target_coll}", where
        assert (e["format"], e["compression"], e["format_version"]) == ("bson", "none", 1), where
        assert e["engine_version"] and e["completed_at"], where
        docs = [d for d in source if s <= bc.oid_seconds(d["_id"]) < t]
        data = b"".join(bytes(d.raw) for d in docs)
        assert e["documents"] == len(docs), where
        assert e["bytes"] == e["stored_bytes"] == len(data), where
        assert e["sha256"] == hashlib.sha256(data).hexdigest(), where
        if docs:
            assert (e["first_id"], e["last_id"]) == (docs[0]["_id"], docs[-1]["_id"]), where
        else:
            assert e["first_id"] is None and e["last_id"] is None, where
    got = spans(entries)
    for (_, end), (start, _) in zip(got, got[1:]):
        assert end <= start, f"catalog windows overlap: {got}"
    return got


def insert_spread(coll, start, end, n, seed, doc_size=400):
    return datagen.insert_spread(coll, start, end, n, doc_size=doc_size, seed=seed)


# ---------------------------------------------------------------- 1. full, then incremental


def test_full_then_incremental_copies_exactly_the_new_documents(ferretdb, mongo, db_name,
                                                                target_db):
    src = mongo[db_name].orders
    base = (int(time.time()) // DAY - 7) * DAY
    insert_spread(src, base, base + 2 * DAY, 200, seed=101)
    tcoll = target_db.orders
    common = ["--collection", "orders", "--target-db", target_db.name, "--step", "4h"]

    # A full run that stops four days ago: everything so far is older than that.
    full = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *common, "--settle-lag", "4d"))
    assert full["mode"] == "full" and full["documents"] == 200
    assert full["target_database"] == target_db.name
    assert_same(tcoll, src, "after the full run")
    first = catalog(target_db)
    old = assert_catalog(first, src, target_db, "orders")
    assert full["windows_written"] == len(first) and len(first) >= 12
    assert old[0][0] == base and old == sorted(old)
    assert all(a[1] == b[0] for a, b in zip(old, old[1:])), f"gap in {old}"
    old_end = old[-1][1]
    assert abs(old_end - (time.time() - 4 * DAY)) < 120

    # New documents, all after the last completed window.
    new_ids = insert_spread(src, int(time.time()) - 3 * DAY, int(time.time()) - 2 * HOUR, 100,
                            seed=102)
    assert all(bc.oid_seconds(i) >= old_end for i in new_ids)
    inc = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *common, "--incremental"))
    assert inc["mode"] == "incremental" and inc["documents"] == 100
    assert_same(tcoll, src, "after the incremental run")
    second = catalog(target_db)
    assert second[:len(first)] == first, "the incremental run rewrote completed windows"
    now_spans = assert_catalog(second, src, target_db, "orders")
    added = now_spans[len(old):]
    assert inc["windows_written"] == len(added)
    assert added[0][0] == old_end
    assert all(a[1] == b[0] for a, b in zip(added, added[1:])), f"gap in {added}"
    assert abs(added[-1][1] - (time.time() - 600)) < 120  # up to now minus the settle lag

    # Nothing new: the rerun writes nothing, not even an empty window for the time since, and
    # leaves the target and the catalog as they were; the next run looks at that time again.
    before = bc.source_docs(tcoll)
    again = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *common, "--incremental"))
    assert again["documents"] == 0 and again["windows_written"] == 0
    assert catalog(target_db) == second
    assert bc.source_docs(tcoll) == before

    # and a document created since is caught by the run after, with no gap before it
    late = insert_spread(src, int(time.time()) - 590, int(time.time()) - 580, 1, seed=103)
    more = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *common, "--incremental",
                        "--settle-lag", "0s"))
    assert more["documents"] == 1
    third = catalog(target_db)
    assert third[:len(second)] == second
    tail = assert_catalog(third, src, target_db, "orders")[len(now_spans):]
    assert tail and tail[0][0] == added[-1][1]
    assert all(a[1] == b[0] for a, b in zip(tail, tail[1:])), f"gap in {tail}"
    assert bc.oid_seconds(late[0]) < tail[-1][1]
    assert_same(tcoll, src, "after the late document")
    assert set(target_db.list_collection_names()) == {CATALOG, "orders"}
    assert CATALOG not in mongo[db_name].list_collection_names()


def test_rerun_of_a_range_skips_completed_windows(ferretdb, mongo, db_name, target_db):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 3 * HOUR, 60, seed=111)
    args = ["--collection", "orders", "--target-db", target_db.name,
            *span_args(START, START + 3 * HOUR)]
    first = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args))
    assert first["windows_written"] == 3 and first["documents"] == 60
    entries = catalog(target_db)
    assert assert_catalog(entries, src, target_db, "orders") == [
        (START + i * HOUR, START + (i + 1) * HOUR) for i in range(3)]

    again = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args))
    assert again["windows_already_complete"] == 3
    assert again["windows_written"] == 0 and again["documents"] == 0
    assert catalog(target_db) == entries
    assert_same(target_db.orders, src)


def test_full_runs_copy_documents_without_an_objectid_in_their_own_pass(ferretdb, mongo,
                                                                         db_name, target_db):
    src = mongo[db_name].mixed
    base = (int(time.time()) // DAY - 2) * DAY
    insert_spread(src, base, base + 6 * HOUR, 30, seed=112)
    datagen.insert_non_oid(src, 12, seed=113)  # strings, ints, longs, UUIDs, binaries
    args = ["--collection", "mixed", "--target-db", target_db.name, "--step", "1d"]
    first = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args))
    assert first["documents"] == 42
    assert_same(target_db.mixed, src)
    entries = catalog(target_db)
    assert_catalog([e for e in entries if e["kind"] == "window"], src, target_db, "mixed")
    pass_entry = entries[-1]
    assert pass_entry["kind"] == "non-objectid" and pass_entry["window"] is None
    assert pass_entry["_id"] == f"mixed|{db_name}.mixed|non-objectid"
    # the pass reads in the server's _id order, as the SHA-256 says
    docs = list(src.with_options(codec_options=bc.RAW)
                .find({"_id": {"$not": {"$type": "objectId"}}}).sort("_id", 1))
    data = b"".join(bytes(d.raw) for d in docs)
    assert (pass_entry["documents"], pass_entry["bytes"]) == (12, len(data))
    assert pass_entry["sha256"] == hashlib.sha256(data).hexdigest()

    # every full run copies them again (they belong to no window); incremental runs cannot
    # see them and say so
    src.insert_one({"_id": "late-key", "v": 1})
    inc = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args, "--incremental"))
    assert any("13 documents have an _id that is not an ObjectId" in w for w in inc["warnings"])
    assert target_db.mixed.find_one({"_id": "late-key"}) is None
    again = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args))
    assert again["documents"] == 13
    assert_same(target_db.mixed, src)
    assert catalog(target_db)[-1]["documents"] == 13


# ---------------------------------------------------------------- 2. renaming


def test_target_database_and_collection_names(ferretdb, mongo, db_name, target_db):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 2 * HOUR, 40, seed=121)
    mongo[db_name].other.insert_one({"_id": ObjectId(), "x": 1})
    s = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, "--collection", "orders",
                     "--target-db", target_db.name, "--target-collection", "orders_copy",
                     *span_args(START, START + 2 * HOUR)))
    assert s["target_database"] == target_db.name and s["documents"] == 40
    assert_same(target_db.orders_copy, src)
    assert set(target_db.list_collection_names()) == {"orders_copy", CATALOG}
    assert_catalog(catalog(target_db), src, target_db, "orders_copy")
    # the source database is left alone
    assert set(mongo[db_name].list_collection_names()) == {"orders", "other"}
    # and verify finds the replica under its names
    checked = verify(ferretdb.uri, db_name, ferretdb.uri, "--collection", "orders",
                     "--target-db", target_db.name, "--target-collection", "orders_copy",
                     "--deep", "--json")
    assert checked.rc == 0, checked.explain()
    assert checked.summary["windows_verified"] == 2


def test_a_target_collection_name_needs_exactly_one_collection(ferretdb, mongo, db_name,
                                                               target_db):
    insert_spread(mongo[db_name].orders, START, START + HOUR, 10, seed=122)
    insert_spread(mongo[db_name].refunds, START, START + HOUR, 10, seed=123)
    res = replicate(ferretdb.uri, db_name, ferretdb.uri, "--collection", "orders",
                    "--collection", "refunds", "--target-db", target_db.name,
                    "--target-collection", "both", *span_args(START, START + HOUR))
    assert res.rc == 2, res.explain()
    assert "--target-collection" in res.stderr, res.explain()
    assert target_db.list_collection_names() == []


def test_a_target_collection_name_with_every_collection_of_two(ferretdb, mongo, db_name,
                                                               target_db):
    insert_spread(mongo[db_name].orders, START, START + HOUR, 10, seed=124)
    insert_spread(mongo[db_name].refunds, START, START + HOUR, 10, seed=125)
    res = replicate(ferretdb.uri, db_name, ferretdb.uri, "--target-db", target_db.name,
                    "--target-collection", "both", *span_args(START, START + HOUR))
    assert res.rc == 2, res.explain()
    assert "--target-collection" in res.stderr and "--collection" in res.stderr, res.explain()
    assert f"{db_name} has 2" in res.stderr, res.explain()
    assert target_db.list_collection_names() == []


# ---------------------------------------------------------------- 3. insert mode


def test_insert_mode_keeps_what_the_target_has_and_adds_the_rest(ferretdb, mongo, db_name,
                                                                 target_db):
    src = mongo[db_name].orders
    ids = insert_spread(src, START, START + 3 * HOUR, 60, seed=131)
    tcoll = target_db.orders
    # The target already holds ten of them, one changed there.
    present = ids[5:60:6]
    tcoll.insert_many(list(src.find({"_id": {"$in": present}})))
    changed = present[3]
    tcoll.update_one({"_id": changed}, {"$set": {"note": "edited in the target"}})
    kept = {bc.id_key(d["_id"]): bytes(d.raw)
            for d in tcoll.with_options(codec_options=bc.RAW).find()}

    s = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, "--collection", "orders",
                     "--target-db", target_db.name, "--mode", "insert",
                     *span_args(START, START + 3 * HOUR)))
    assert s["windows_written"] == 3
    expected = bc.source_docs(src)
    expected.update(kept)  # insert keeps what is there, the edited one included
    bc.assert_same_docs(bc.source_docs(tcoll), expected, "insert mode")
    assert tcoll.find_one({"_id": changed})["note"] == "edited in the target"
    assert_catalog(catalog(target_db), src, target_db, "orders")


# ---------------------------------------------------------------- 4. indexes


def test_copy_indexes_creates_the_unique_and_compound_indexes(ferretdb, mongo, db_name,
                                                              target_db):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 2 * HOUR, 30, seed=141)
    src.create_index([("seq", pymongo.ASCENDING)], unique=True, name="seq_unique")
    src.create_index([("customer.tier", pymongo.ASCENDING), ("created", pymongo.DESCENDING)],
                     name="tier_created")
    s = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, "--collection", "orders",
                     "--target-db", target_db.name, "--copy-indexes",
                     *span_args(START, START + 2 * HOUR)))
    assert s["documents"] == 30
    assert_same(target_db.orders, src)
    info = target_db.orders.index_information()
    assert set(info) == {"_id_", "seq_unique", "tier_created"}, info
    assert info["seq_unique"]["key"] == [("seq", 1)]
    assert info["seq_unique"].get("unique") is True
    assert info["tier_created"]["key"] == [("customer.tier", 1), ("created", -1)]
    assert not info["tier_created"].get("unique")
    # the unique index is real on the target
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        target_db.orders.insert_one({"seq": 0})


@pytest.mark.xfail(strict=True, reason=(
    "FerretDB 1.24, not the engine: a createIndexes naming two or more indexes that all exist "
    "already panics in FerretDB ('runtime error: slice bounds out of range [:2:1]' in its log) "
    "and closes the connection; the engine takes that for a network error and retries it "
    "until its budget is spent. One index at a time, or a single index, is answered 'all "
    "indexes already exist'."))
def test_copy_indexes_again_when_the_target_has_them(ferretdb, mongo, db_name, target_db):
    src = mongo[db_name].orders
    insert_spread(src, START, START + HOUR, 10, seed=142)
    src.create_index([("seq", pymongo.ASCENDING)], unique=True, name="seq_unique")
    src.create_index([("customer.tier", pymongo.ASCENDING), ("created", pymongo.DESCENDING)],
                     name="tier_created")
    args = ["--collection", "orders", "--target-db", target_db.name, "--copy-indexes",
            "--retry-budget", "1", "--retry-base-ms", "10", *span_args(START, START + HOUR)]
    ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args))
    info = target_db.orders.index_information()
    again = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args))
    assert again["windows_already_complete"] == 1
    assert target_db.orders.index_information() == info


# ---------------------------------------------------------------- 5. kill and rerun


def test_sigkill_mid_run_then_rerun(ferretdb, mongo, db_name, target_db, cosmos_proxy):
    src = mongo[db_name].orders
    windows = 8
    insert_spread(src, START, START + windows * HOUR, windows * 30, seed=151)
    # 150 ms more for every read, ten documents a read, one window at a time: ~0.6 s a window
    lagging = cosmos_proxy(ferretdb, latency_ms=150)
    args = ["--collection", "orders", "--target-db", target_db.name,
            "--batch-size", "10", "--write-batch-size", "10",
            *span_args(START, START + windows * HOUR, parallel=1)]
    job = clirun.Background("replicate", "--source", lagging.uri(), "--db", db_name,
                            "--target", ferretdb.uri, *args, "--json")
    try:
        clirun.wait_for(lambda: target_db[CATALOG].count_documents({}) >= 2, 60,
                        what="two completed windows")
        job.proc.send_signal(signal.SIGKILL)
        res = job.wait(timeout=10)
    finally:
        job.kill()
    assert res.rc == -signal.SIGKILL
    done = catalog(target_db)
    assert 2 <= len(done) < windows, f"{len(done)} windows complete: the run was not cut"
    # what is recorded is complete: each window's documents are all in the target
    done_spans = assert_catalog(done, src, target_db, "orders")
    target = bc.source_docs(target_db.orders)
    for s, t in done_spans:
        expect = bc.source_docs(src, bc.oid_time_in(s, t))
        assert all(target.get(k) == v for k, v in expect.items()), f"window {s}-{t} incomplete"

    again = ok(replicate(ferretdb.uri, db_name, ferretdb.uri, *args))
    assert again["windows_already_complete"] == len(done)
    assert again["windows_written"] == windows - len(done)
    final = catalog(target_db)
    assert len(final) == windows
    assert len({e["_id"] for e in final}) == windows
    assert [e for e in final if e["_id"] in {d["_id"] for d in done}] == done, \
        "windows completed before the kill were copied again"
    assert assert_catalog(final, src, target_db, "orders") == [
        (START + i * HOUR, START + (i + 1) * HOUR) for i in range(windows)]
    assert_same(target_db.orders, src, "after the rerun")


# ---------------------------------------------------------------- 6. throttling on both sides


def test_throttling_on_source_and_target_at_once(ferretdb, fresh_ferretdb, mongo, db_name,
                                                 cosmos_proxy):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 6 * HOUR, 80, seed=161)
    # All six windows read at once, in pages of five, overrun the source's 20 RU (a second of
    # its budget) at the start, and their ~430 RU of writes the target's 130 RU. Then each
    # side has about two seconds of work at its budget.
    source_proxy = cosmos_proxy(ferretdb, ru_per_second=20)
    target_proxy = cosmos_proxy(fresh_ferretdb, ru_per_second=130)
    res = replicate(source_proxy.uri(), db_name, target_proxy.uri(), "--collection", "orders",
                    "--batch-size", "5", "--write-batch-size", "20", "--retry-base-ms", "50",
                    "--retry-budget", "30", *span_args(START, START + 6 * HOUR, parallel=6))
    s = ok(res)
    target = fresh_ferretdb.client()
    try:
        tdb = target[db_name]
        assert_same(tdb.orders, src, "throttled both ways")
        assert_catalog(catalog(tdb), src, tdb, "orders")
    finally:
        target.close()
    sc, tc = source_proxy.counters(), target_proxy.counters()
    assert sc["throttled"] >= 1, sc
    assert tc["throttled"] >= 1, tc
    assert s["throttle_events"] >= 1 and s["retries"] >= 1
    assert s["request_units"]["charged"] > 0
    assert s["target_request_units"]["charged"] > 0
    # the target's charges are the target proxy's, not the source's
    assert s["target_request_units"]["charged"] == pytest.approx(tc["ru_charged"], rel=0.05)
    assert s["request_units"]["charged"] == pytest.approx(
        sc["by_command"]["find"]["ru"] + sc["by_command"].get("getMore", {}).get("ru", 0),
        rel=0.05)


# ---------------------------------------------------------------- 7. partial bulk writes


def test_partial_bulk_writes_on_the_target_lose_and_double_nothing(ferretdb, mongo, db_name,
                                                                   target_db, cosmos_proxy):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 3 * HOUR, 300, seed=171)
    proxy = cosmos_proxy(ferretdb, partial_write_at=30, partial_write_count=3)
    # A partial write is a throttling answer: left to adapt, the target's governor would pace
    # the rest of the run to what got through in the first second (a few seconds here). With
    # a known budget it stays near it.
    s = ok(replicate(ferretdb.uri, db_name, proxy.uri(), "--collection", "orders",
                     "--target-db", target_db.name, "--write-batch-size", "100",
                     "--retry-base-ms", "20", "--target-max-ru", "100000",
                     *span_args(START, START + 3 * HOUR, parallel=1)))
    assert_same(target_db.orders, src, "after partial writes")
    assert_catalog(catalog(target_db), src, target_db, "orders")
    c = proxy.counters()
    assert c["partial_writes"] == 3
    # what a cut left unwritten goes again in requests of what got through (30), growing by a
    # quarter after a clean one, and nothing else goes twice. A batch that met throttling halves
    # the worker's next ones and two clean ones grow them by a quarter: window 1 one batch of
    # 100 (cut at 30) and its re-sends of 30, 38 (cut at 30) and 10; window 2 a batch of 50 (cut
    # at 30) and its re-send of 20, then 25 and 25; window 3 31, 31 and 38; 3 catalog entries
    writes = sum(c["by_command"].get(name, {}).get("requests", 0) for name in ("insert", "update"))
    assert writes == (1 + 3) + (2 + 2) + 3 + 3, c["by_command"]
    assert s["retries"] == 3 and s["throttle_events"] == 3
    assert s["documents"] == 300
    assert s["target_request_units"]["budget"] == 100000


def test_a_target_that_cuts_every_bulk_write_part_way_does_not_slow_the_job_to_a_crawl(
        ferretdb, mongo, db_name, target_db, cosmos_proxy):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 3 * HOUR, 300, seed=172)
    # Every write of more than two documents is cut after two, whatever the job's rate: a
    # target that admits only so much of any one write. Cutting the pace cannot help; the
    # target's governor used to cut it every second all the same, down to 1 RU/s (a document
    # every 5 s). No --target-max-ru: the adaptive pace is what is tested.
    proxy = cosmos_proxy(ferretdb, partial_write_at=2, partial_write_count=10**9)
    s = ok(replicate(ferretdb.uri, db_name, proxy.uri(), "--collection", "orders",
                     "--target-db", target_db.name, "--write-batch-size", "100",
                     "--retry-base-ms", "20", "--retry-budget", "30",
                     *span_args(START, START + 3 * HOUR, parallel=2), timeout=300))
    assert_same(target_db.orders, src, "after every write was cut")
    c = proxy.counters()
    assert c["partial_writes"] >= 20 and s["throttle_events"] >= 20
    # the workers wait for the pace no more than a fifth of their time, besides two seconds
    # each while the governor finds out that its cut changed nothing
    figures = {k: s[k] for k in ("elapsed_seconds", "copy_seconds", "pacing_wait_seconds",
                                 "retry_wait_seconds", "throttle_events", "target_request_units")}
    assert s["pacing_wait_seconds"] <= 0.2 * 2 * s["copy_seconds"] + 2 * 2, repr(figures)
    assert s["target_request_units"]["final_pace"] == 0 or \
        s["target_request_units"]["final_pace"] >= 100, figures


def test_writes_under_a_fixed_target_budget_fit_the_bucket_whatever_the_batch_size(
        ferretdb, mongo, db_name, target_db, cosmos_proxy):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 3 * HOUR, 300, seed=173)
    # one window of 300 documents of 1 KB: one batch of about 1,800 RU, where the target's
    # bucket holds 500. Paced at 300 RU/s, a request carries half a second of the pace, so
    # the target never has to cut one; sent whole after its wait, it was cut every time.
    proxy = cosmos_proxy(ferretdb, ru_per_second=500)
    s = ok(replicate(ferretdb.uri, db_name, proxy.uri(), "--collection", "orders",
                     "--target-db", target_db.name, "--target-max-ru", "300",
                     *span_args(START, START + 3 * HOUR, step="3h", parallel=1), timeout=120))
    assert_same(target_db.orders, src, "under a fixed target budget")
    c = proxy.counters()
    inserts = c["by_command"]["insert"]
    assert c["throttled"] == 0 and c["partial_writes"] == 0 and s["throttle_events"] == 0, c
    # every request within half a second of the pace, give or take the document that tips it
    assert inserts["ru"] / inserts["requests"] <= 150 + 10, inserts
    assert s["documents"] == 300


# ---------------------------------------------------------------- 8. a document too large


def test_a_document_too_large_for_the_target_is_reported_and_its_window_left_open(
        ferretdb, mongo, db_name, target_db, cosmos_proxy):
    src = mongo[db_name].orders
    insert_spread(src, START, START + 3 * HOUR, 90, seed=181)
    # one document of 8 KB in the second window, where the target takes at most 4 KB
    big = datagen.make_doc(random.Random(5), datagen.make_oid(START + HOUR + 1800, 7), 999,
                           doc_size=8000)
    src.insert_one(big)
    size = len(bson.encode(big))
    proxy = cosmos_proxy(ferretdb, max_document_bytes=4096)
    args = ["--collection", "orders", "--target-db", target_db.name,
            *span_args(START, START + 3 * HOUR)]

    for attempt in (1, 2):
        res = replicate(ferretdb.uri, db_name, proxy.uri(), *args)
        assert res.rc == 1, res.explain()
        warning = [line for line in res.stderr.splitlines()
                   if "the target refused the document with _id" in line]
        assert len(warning) == 1, res.explain()
        named = f'_id {{ "$oid" : "{big["_id"]}" }} ({size} bytes) in {target_db.name}.orders'
        assert named in warning[0], res.explain()
        assert "RequestEntityTooLarge (413)" in warning[0] and "(code 16)" in warning[0]
        s = res.summary
        assert s["status"] == "failed" and s["error"]["code"] == "EREJECTED", res.explain()
        assert s["documents_rejected"] == 1
        assert len(s["rejected"]) == 1 and s["rejected"][0].startswith(named), s["rejected"]
        assert s["windows_failed"] == 1
        # every other document is there; the window holding the big one is not recorded
        bc.assert_same_docs(bc.source_docs(target_db.orders),
                            bc.source_docs(src, lambda d: d["_id"] != big["_id"]),
                            f"run {attempt}")
        # the window holding it is not recorded, every other part of the range is
        recorded = assert_catalog(catalog(target_db), src, target_db, "orders")
        big_time = bc.oid_seconds(big["_id"])
        assert not any(a <= big_time < b for a, b in recorded), recorded
        gaps = [(a[1], b[0]) for a, b in zip(recorded, recorded[1:]) if a[1] < b[0]]
        assert recorded[0][0] == START and recorded[-1][1] == START + 3 * HOUR, recorded
        assert len(gaps) == 1 and gaps[0][0] <= big_time < gaps[0][1], recorded
        if attempt == 1:
            assert recorded == [(START, START + HOUR), (START + 2 * HOUR, START + 3 * HOUR)]
        else:
            # the one window left is read in sub-windows (--parallel 2), each recorded on
            # its own: the half without the big document is complete now
            assert s["windows_already_complete"] == 2 and s["windows_written"] == 1
            assert recorded == [(START, START + HOUR), (START + HOUR, START + HOUR + 1800),
                                (START + 2 * HOUR, START + 3 * HOUR)]
    assert proxy.counters()["too_large"] == 2


# ---------------------------------------------------------------- 9. errors


def test_unreachable_target_fails_in_bounded_time_naming_it(ferretdb, mongo, db_name):
    insert_spread(mongo[db_name].orders, START, START + HOUR, 10, seed=191)
    port = clirun.closed_port()
    res = replicate(ferretdb.uri, db_name, f"mongodb://user:{SECRET}@127.0.0.1:{port}/",
                    "--server-timeout-ms", "1000", *span_args(START, START + HOUR), timeout=30)
    assert res.rc == 1, res.explain()
    assert f"127.0.0.1:{port}" in res.stderr and "target" in res.stderr, res.explain()
    assert res.elapsed < 10, res.explain()
    assert SECRET not in res.output, res.explain()
    s = res.summary
    assert s["status"] == "failed" and f"127.0.0.1:{port}" in s["error"]["message"]
    assert s["target"] == f"mongodb://user:****@127.0.0.1:{port}/"


@pytest.mark.parametrize("uri", ["mongo://127.0.0.1:27017/", "mongodb://127.0.0.1:notaport/",
                                 f"mongodb://user:{SECRET}@/"])
def test_malformed_target_uri(ferretdb, mongo, db_name, uri):
    insert_spread(mongo[db_name].orders, START, START + HOUR, 10, seed=192)
    res = replicate(ferretdb.uri, db_name, uri, *span_args(START, START + HOUR), timeout=30)
    assert res.rc == 2, res.explain()
    assert "malformed" in res.stderr and "target" in res.stderr, res.explain()
    assert SECRET not in res.output


def test_target_equal_to_source_is_refused(ferretdb, mongo, db_name):
    src = mongo[db_name].orders
    insert_spread(src, START, START + HOUR, 10, seed=193)
    before = bc.source_docs(src)
    # the database's only collection onto itself, named or not
    for extra in ([], ["--target-db", db_name], ["--collection", "orders"],
                  ["--collection", "orders", "--target-collection", "orders"],
                  ["--target-collection", "orders"]):
        res = replicate(ferretdb.uri, db_name, ferretdb.uri, *extra,
                        *span_args(START, START + HOUR), timeout=60)
        assert res.rc == 2, res.explain()
        assert "the target is the source" in res.stderr, res.explain()
    assert bc.source_docs(src) == before
    assert CATALOG not in mongo[db_name].list_collection_names()


def test_the_same_server_spelled_otherwise_is_still_the_source(ferretdb, mongo, db_name):
    """127.0.0.1 for localhost (or the server among others in a seed list) had replicated the
    collection onto itself, creating the catalog in the source database."""
    src = mongo[db_name].orders
    insert_spread(src, START, START + HOUR, 10, seed=195)
    before = bc.source_docs(src)
    port = ferretdb.uri.rstrip("/").rsplit(":", 1)[1]
    for target in (f"mongodb://localhost:{port}/", f"mongodb://LocalHost:{port}/?appName=x"):
        res = replicate(ferretdb.uri, db_name, target, *span_args(START, START + HOUR),
                        timeout=60)
        assert res.rc == 2, res.explain()
        assert "the target is the source" in res.stderr, res.explain()
    assert bc.source_docs(src) == before
    assert CATALOG not in mongo[db_name].list_collection_names()


@pytest.mark.parametrize("json_summary", [True, False], ids=["json", "text"])
def test_target_password_is_never_printed(ferretdb, mongo, db_name, target_db, json_summary):
    src = mongo[db_name].orders
    insert_spread(src, START, START + HOUR, 10, seed=194)
    args = ["--target-db", target_db.name, *span_args(START, START + HOUR)]
    target = f"mongodb://user:{SECRET}@127.0.0.1:{ferretdb.port}/"
    # FerretDB 1.24 refuses the driver's default mechanism (SCRAM) ...
    refused = replicate(ferretdb.uri, db_name, target, *args, json_summary=json_summary,
                        timeout=60)
    assert refused.rc == 1, refused.explain()
    assert "authentication failed" in refused.stderr, refused.explain()
    assert SECRET not in refused.output, refused.explain()
    # ... and takes PLAIN with any password: the run goes on, the summary masks it
    taken = replicate(ferretdb.uri, db_name, target + "?authMechanism=PLAIN", *args,
                      json_summary=json_summary, timeout=60)
    assert taken.rc == 0, taken.explain()
    assert SECRET not in taken.output, taken.explain()
    assert_same(target_db.orders, src)
    if json_summary:
        assert refused.summary["target"] == f"mongodb://user:****@127.0.0.1:{ferretdb.port}/"
        assert taken.summary["target"] == (f"mongodb://user:****@127.0.0.1:{ferretdb.port}/"
                                           "?authMechanism=PLAIN")


# ---------------------------------------------------------------- 10. verify a replica


def verify(source: str, db: str, target: str, *extra) -> clirun.Result:
    return clirun.run("verify", "--source", source, "--db", db, "--backup", target, *extra,
                      timeout=120)


def test_verify_a_replica_names_what_differs(ferretdb, mongo, db_name, target_db):
    src = mongo[db_name].orders
    ids = insert_spread(src, START, START + 3 * HOUR, 60, seed=201)
    window_args = span_args(START, START + 3 * HOUR)
    ok(replicate(ferretdb.uri, db_name, ferretdb.uri, "--collection", "orders",
                 "--target-db", target_db.name, *window_args))
    vargs = ["--collection", "orders", "--target-db", target_db.name]

    clean = verify(ferretdb.uri, db_name, ferretdb.uri, *vargs, "--deep", "--json")
    assert clean.rc == 0, clean.explain()
    report = clean.summary
    assert report["windows_verified"] == 3 and report["windows_differing"] == 0
    assert [v["status"] for v in report["verdicts"]] == ["ok"] * 3, clean.explain()

    # window 1: a document deleted in the replica; window 2: one changed there; window 3: a
    # document created in the source after its window was copied
    in_window = [[i for i in ids if START + k * HOUR <= bc.oid_seconds(i) < START + (k + 1) * HOUR]
                 for k in range(3)]
    deleted, changed = in_window[0][4], in_window[1][7]
    target_db.orders.delete_one({"_id": deleted})
    target_db.orders.update_one({"_id": changed}, {"$set": {"total": -1.0}})
    late = datagen.make_oid(START + 2 * HOUR + 99, 2**40)
    src.insert_one({"_id": late, "late": True})
    w = [(bc.rfc3339(START + k * HOUR), bc.rfc3339(START + (k + 1) * HOUR)) for k in range(3)]

    deep = verify(ferretdb.uri, db_name, ferretdb.uri, *vargs, "--deep", "--json")
    assert deep.rc == 3, deep.explain()
    report = deep.summary
    assert report["windows_verified"] == 3 and report["windows_differing"] == 3
    verdicts = {(v["start"], v["end"]): v for v in report["verdicts"]}
    assert set(verdicts) == set(w)
    assert all(v["status"] == "differs" and v["collection"] == "orders"
               for v in verdicts.values())

    def examples(k):
        return "\n".join(verdicts[w[k]]["examples"])

    v0, v1, v2 = (verdicts[x] for x in w)
    assert (v0["source_documents"], v0["backup_documents"]) == (20, 19)
    assert (v0["missing"], v0["extra"], v0["different"]) == (1, 0, 0)
    assert f'_id {{ "$oid" : "{deleted}" }}: in the source, not in the replica' in examples(0)
    assert (v1["source_documents"], v1["backup_documents"]) == (20, 20)
    assert (v1["missing"], v1["extra"], v1["different"]) == (0, 0, 1)
    assert f'_id {{ "$oid" : "{changed}" }}: differs between the source and the replica' in \
        examples(1)
    assert (v2["source_documents"], v2["backup_documents"]) == (21, 20)
    assert (v2["missing"], v2["extra"], v2["different"]) == (1, 0, 0)
    assert f'_id {{ "$oid" : "{late}" }}: in the source, not in the replica' in examples(2)

    # the table says the same, each _id under the row of its window; the error names them
    table = verify(ferretdb.uri, db_name, ferretdb.uri, *vargs, "--deep")
    assert table.rc == 3, table.explain()
    rows = table.stdout.splitlines()
    for k, (oid, reason) in enumerate([(deleted, "in the source, not in the replica"),
                                       (changed, "differs between the source and the replica"),
                                       (late, "in the source, not in the replica")]):
        row = next(i for i, line in enumerate(rows) if line.startswith("orders")
                   and f"{w[k][0]} {w[k][1]}" in line and line.rstrip().endswith("differs"))
        assert f'_id {{ "$oid" : "{oid}" }}: {reason}' in "\n".join(rows[row + 1:row + 3]), \
            table.explain()
        assert f"{db_name}.orders [{w[k][0]}, {w[k][1]})" in table.stderr, table.explain()

    # by counts only, the windows whose counts differ are still flagged
    shallow = verify(ferretdb.uri, db_name, ferretdb.uri, *vargs, "--json")
    assert shallow.rc == 3, shallow.explain()
    statuses = {(v["start"], v["end"]): v["status"] for v in shallow.summary["verdicts"]}
    assert statuses == {w[0]: "differs", w[1]: "ok", w[2]: "differs"}
    assert shallow.summary["windows_differing"] == 2
    assert w[0][0] in shallow.stderr and w[2][0] in shallow.stderr, shallow.explain()


def test_an_adaptive_target_that_cuts_large_writes_is_paced_not_throttled_half_the_time(
        ferretdb, mongo, db_name, target_db, cosmos_proxy):
    """A Cosmos target cuts a bulk write part-way when it costs more than the budget left.
    Without --target-max-ru the target's governor adapts. A batch costing more than a second
    of the pace is cut whatever the pace; counting those cuts against the pace made every
    request of a job with large batches a throttle, the cut was judged useless, and the job
    ran unpaced with nearly every write request throttled (here 1,340 of 1,344 at 300 RU/s)
    and over 10% more RU charged than the documents cost."""
    src = mongo[db_name].orders
    insert_spread(src, START, START + 16 * HOUR, 1000, seed=173, doc_size=300)
    proxy = cosmos_proxy(ferretdb, ru_per_second=300)  # cuts writes part-way, as Cosmos does
    s = ok(replicate(ferretdb.uri, db_name, proxy.uri("directConnection=true"), "--collection",
                     "orders", "--target-db", target_db.name,
                     *span_args(START, START + 16 * HOUR, step="4h", parallel=4), timeout=300))
    assert_same(target_db.orders, src, "after an adaptive run into a cutting target")
    c = proxy.counters()
    inserts = c["by_command"]["insert"]
    # (the adaptive pace still probes above the budget now and then: 28-38% here, against
    # 1,340 of 1,344 before)
    assert inserts["throttled"] <= 0.5 * inserts["requests"], inserts
    assert s["target_request_units"]["final_pace"] > 0  # the job is paced
    # what was charged is what the documents cost, give or take the cut requests' share
    cost = sum(5 + len(bson.encode(d)) / 1024 for d in src.find())
    assert inserts["ru"] <= 1.1 * (cost + inserts["requests"]), (inserts["ru"], cost)

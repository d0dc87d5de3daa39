"""Backups against a real FerretDB, checked with an independent reader
(tests/support/backupcheck.py): the exact documents, no more, no fewer,
byte for byte."""

from __future__ import annotations

import datetime
import json
import re
import shutil
import time
import uuid

import bson
import pymongo
import pytest
from bson import Binary, Int64, ObjectId, Regex, Timestamp

import backupcheck as bc
import clirun
import datagen

DAY = 86400
HOUR = 3600
STEP_4H = 4 * HOUR
LAG = 600  # the default settle lag
# A 4h boundary a little over five days ago: five days of documents from
# there end more than an hour ago (older than now minus the settle lag), and
# few empty windows follow them (FerretDB scans the whole collection for
# every window, so every window costs).
BASE = (int(time.time()) - 5 * DAY - HOUR) // STEP_4H * STEP_4H


def _new_db(client, prefix):
    return client[f"{prefix}_{uuid.uuid4().hex[:8]}"]


def _drop(client, db):
    try:
        client.drop_database(db.name)
    except pymongo.errors.PyMongoError:
        pass


def _ok(res: clirun.Result) -> dict:
    assert res.rc == 0, res.explain()
    summary = res.summary
    assert summary["status"] == "ok" and summary["error"] is None, res.explain()
    assert summary["windows_failed"] == 0 and summary["errors"] == [], res.explain()
    return summary


def _window_spans(backup, db, coll):
    return [(w.start_epoch, w.end_epoch) for w in backup.windows_of(db, coll, "window")]


def _expected_cut(start, end, step):
    """Windows of [start, end) cut at multiples of step since the epoch."""
    out, t = [], start
    while t < end:
        nxt = min((t // step + 1) * step, end)
        out.append((t, nxt))
        t = nxt
    return out


# ---------------------------------------------------------------- shared data


@pytest.fixture(scope="module")
def shop(ferretdb):
    """A database with ``orders`` (3,000 documents over five days, two
    secondary indexes) and ``mixed`` (300 ObjectId documents over one day
    plus 20 whose _id is a string, int, long, UUID or binary)."""
    client = ferretdb.client()
    db = _new_db(client, "shop")
    datagen.insert_spread(db.orders, BASE, BASE + 5 * DAY, 3000, doc_size=512, seed=11)
    db.orders.create_index("seq")
    db.orders.create_index([("customer.tier", 1), ("seq", -1)], name="tier_seq", unique=True)
    datagen.insert_spread(db.mixed, BASE, BASE + DAY, 300, doc_size=512, seed=12)
    datagen.insert_non_oid(db.mixed, 20, seed=13)
    yield db
    _drop(client, db)
    client.close()


@pytest.fixture(scope="module")
def shop_backup(ferretdb, shop, tmp_path_factory):
    """One full backup of ``shop`` with --step 4h (the default mode)."""
    dest = tmp_path_factory.mktemp("shop") / "bk"
    t0 = int(time.time())
    res = clirun.backup(ferretdb.uri, shop.name, dest, "--step", "4h")
    t1 = int(time.time()) + 1
    return dest, res, t0, t1


# ---------------------------------------------------------------- full backups


def test_full_backup_over_many_windows_holds_exactly_the_source(shop, shop_backup):
    dest, res, t0, t1 = shop_backup
    summary = _ok(res)
    assert summary["mode"] == "full"

    backup = bc.assert_backup_matches(dest, shop)  # both collections, byte for byte
    assert len(backup.docs(shop.name, "orders")) == 3000

    # Windows run without a gap from the 4h boundary below the oldest
    # ObjectId to now minus the settle lag, cut at 00:00, 04:00, ... UTC.
    spans = _window_spans(backup, shop.name, "orders")
    assert spans[0][0] == BASE
    assert t0 - LAG <= spans[-1][1] <= t1 - LAG, spans[-1]
    assert spans == _expected_cut(BASE, spans[-1][1], STEP_4H)
    filled = [w for w in backup.windows_of(shop.name, "orders", "window") if w.docs]
    assert len(filled) == 30  # five days of 4h windows, each with ~100 documents

    # The summary agrees with what is on disk.
    on_disk = {(w.manifest["collection"], w.manifest["data"]): w.manifest for w in backup.windows}
    reported = {(w["collection"], w["data"]): w for w in summary["windows"]}
    assert reported.keys() == on_disk.keys()
    for key, w in reported.items():
        m = on_disk[key]
        assert (w["documents"], w["bytes"], w["stored_bytes"], w["sha256"]) == \
            (m["documents"], m["bytes"], m["stored_bytes"], m["sha256"]), key
    assert summary["windows_planned"] == summary["windows_written"] == len(backup.windows)
    assert summary["documents"] == 3000 + 300 + 20
    assert summary["bytes"] == sum(m["bytes"] for m in on_disk.values())
    colls = {c["name"]: c for c in summary["collections"]}
    assert sorted(colls) == ["mixed", "orders"]
    assert colls["orders"]["documents"] == 3000
    assert colls["orders"]["range_start"] == bc.rfc3339(BASE)


def test_full_backup_copies_non_objectid_ids_in_their_own_pass(shop, shop_backup):
    dest, res, _, _ = shop_backup
    summary = _ok(res)
    backup = bc.read_backup(dest)

    non_oid = backup.windows_of(shop.name, "mixed", "non-objectid")
    assert [w.data_path.name for w in non_oid] == ["non-objectid.bson"]
    bc.assert_same_docs(backup.docs(shop.name, "mixed", "non-objectid"),
                        bc.source_docs(shop.mixed, bc.not_objectid), "non-objectid.bson")
    bc.assert_same_docs(backup.docs(shop.name, "mixed", "window"),
                        bc.source_docs(shop.mixed, bc.is_objectid), "mixed windows")
    kinds = {type(bson.decode(k)["_id"]).__name__ for k in backup.docs(shop.name, "mixed",
                                                                        "non-objectid")}
    assert {"str", "int", "Int64", "Binary"} <= kinds

    colls = {c["name"]: c for c in summary["collections"]}
    assert colls["mixed"]["non_objectid_copied"] == 20
    assert colls["orders"]["non_objectid_copied"] == 0


def test_metadata_json_lists_the_collection_indexes(shop, shop_backup):
    dest, res, _, _ = shop_backup
    _ok(res)
    meta = bc.read_backup(dest).metadata[(shop.name, "orders")]
    assert meta.get("collectionName") == "orders"
    assert "options" in meta
    by_name = {ix["name"]: ix for ix in meta["indexes"]}
    assert sorted(by_name) == ["_id_", "seq_1", "tier_seq"]
    for ix in shop.orders.list_indexes():
        got = by_name[ix["name"]]
        assert list(got["key"].items()) == list(ix["key"].items()), ix["name"]
        assert bool(got.get("unique")) == bool(ix.get("unique")), ix["name"]
    assert by_name["tier_seq"].get("unique") is True


def test_list_shows_the_windows_with_the_manifest_counts(shop, shop_backup):
    dest, res, _, _ = shop_backup
    _ok(res)
    backup = bc.read_backup(dest)
    manifests = {(w.manifest["collection"], w.manifest["data"]): w.manifest
                 for w in backup.windows}

    js = clirun.run("list", "--from", f"dir:{dest}", "--json")
    assert js.rc == 0, js.explain()
    listed = {(m["collection"], m["data"]): m for m in js.summary["windows"]}
    assert listed == manifests

    text = clirun.run("list", "--from", f"dir:{dest}")
    assert text.rc == 0, text.explain()
    lines = text.stdout.splitlines()
    for (coll, data), m in manifests.items():
        hits = [ln for ln in lines if data in ln.split() and coll in ln.split()]
        assert len(hits) == 1, f"{coll}/{data} not listed once:\n{text.stdout}"
        assert str(m["documents"]) in hits[0].split(), hits[0]
        if m["window"]:
            assert m["window"]["start"] in hits[0] and m["window"]["end"] in hits[0], hits[0]

    only = clirun.run("list", "--from", f"dir:{dest}", "--collection", "mixed", "--json")
    assert only.rc == 0, only.explain()
    assert {(m["collection"], m["data"]) for m in only.summary["windows"]} == \
        {k for k in manifests if k[0] == "mixed"}


def test_the_independent_reader_catches_a_damaged_backup(shop, shop_backup, tmp_path):
    """The checks above can fail: a flipped byte or a lost file is caught."""
    dest, res, _, _ = shop_backup
    _ok(res)
    copy = tmp_path / "copy"
    shutil.copytree(dest, copy)
    victim = sorted((copy / shop.name / "orders").glob("*.bson"))[3]
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(AssertionError, match="sha256"):
        bc.read_backup(copy)
    victim.unlink()
    with pytest.raises(AssertionError, match="missing"):
        bc.read_backup(copy)
    victim.with_name(victim.name.replace(".bson", ".manifest.json")).unlink()
    with pytest.raises(AssertionError, match="missing"):
        bc.assert_backup_matches(copy, shop)


def test_full_rerun_copies_nothing_new(ferretdb, shop, shop_backup, tmp_path):
    dest, res, _, _ = shop_backup
    _ok(res)
    copy = tmp_path / "bk"
    shutil.copytree(dest, copy)  # copy2 keeps mtimes
    before = bc.snapshot(copy)

    again = _ok(clirun.backup(ferretdb.uri, shop.name, copy, "--step", "4h"))
    assert again["windows_already_complete"] >= 30
    new_windows = [w for w in again["windows"] if w["kind"] == "window"]
    assert all(w["documents"] == 0 for w in new_windows), new_windows
    assert again["documents"] == 20  # only the non-ObjectId pass, rewritten on every full run

    after = bc.snapshot(copy)
    for path, (mtime, digest) in before.items():
        name = path.rsplit("/", 1)[-1]
        if name.startswith("non-objectid."):
            if name.endswith(".bson"):
                assert after[path][1] == digest, f"{path} changed content"
            continue
        if name == "metadata.json":
            continue
        assert after.get(path) == (mtime, digest), f"{path} was rewritten"
    bc.assert_backup_matches(copy, shop)


# ---------------------------------------------------------------- formats


@pytest.fixture(scope="module")
def variety(ferretdb):
    """600 documents over two days, a collection of unusual BSON values that
    FerretDB accepts, and 10 non-ObjectId _ids."""
    client = ferretdb.client()
    db = _new_db(client, "variety")
    datagen.insert_spread(db.orders, BASE, BASE + 2 * DAY, 600, doc_size=700, seed=21)
    datagen.insert_non_oid(db.orders, 10, seed=22)
    values = [
        Binary(b"\x00\x01\xff", 0), Binary(b"0123456789abcdef", 5), Binary(b"user", 0x80),
        Regex("^a.*b$", "imx"), Timestamp(1_700_000_000, 7), 2**31 - 1, -2**31,
        Int64(2**63 - 1), Int64(-2**63), Int64(5), 5, 1.7976931348623157e308, 5e-324, -1.5,
        datetime.datetime(1900, 1, 1), {}, [], ObjectId(), "é😀\n\t\"\\",
        False, None, {"a": {"b": {"c": [1, {"d": 2}, "x"]}}}, "",
    ]
    db.types.insert_many([{"_id": datagen.make_oid(BASE + 61 * i, i), "n": i, "v": v}
                          for i, v in enumerate(values)])
    yield db
    _drop(client, db)
    client.close()


@pytest.mark.parametrize("fmt,comp", [("bson", "gzip"), ("bson", "zstd"), ("jsonl", "none"),
                                      ("jsonl", "gzip"), ("jsonl", "zstd")])
def test_format_and_compression_variants_hold_exactly_the_source(ferretdb, variety, tmp_path,
                                                                  fmt, comp):
    dest = tmp_path / "bk"
    summary = _ok(clirun.backup(ferretdb.uri, variety.name, dest, "--step", "1d",
                                "--format", fmt, "--compress", comp))
    backup = bc.assert_backup_matches(dest, variety)
    ext = {"bson": ".bson", "jsonl": ".jsonl"}[fmt] + \
        {"none": "", "gzip": ".gz", "zstd": ".zst"}[comp]
    assert backup.windows
    for w in backup.windows:
        assert (w.manifest["format"], w.manifest["compression"]) == (fmt, comp)
        assert w.data_path.name.endswith(ext), w.data_path
        if comp != "none" and w.manifest["bytes"] > 4096:
            assert w.manifest["stored_bytes"] < w.manifest["bytes"], w.data_path
    if fmt == "jsonl":
        # Readable: one canonical Extended JSON document per line.
        w = backup.windows_of(variety.name, "types", "window")[0]
        first = bc._decompress(w.data_path.read_bytes(), comp, w.data_path).split(b"\n")[0]
        assert json.loads(first)["_id"] == {"$oid": str(bson.decode(w.docs[0][1])["_id"])}
    assert summary["documents"] == 610 + variety.types.count_documents({})


@pytest.mark.parametrize("comp,level,says", [
    ("gzip", "12", "gzip takes levels 1 to 9 (0: its default, 6), not 12"),
    ("gzip", "10", "gzip takes levels 1 to 9"),
    ("zstd", "23", None),  # refused by the option's own bounds (0 to 22)
    ("none", "5", "needs a compression"),
])
def test_a_compression_level_the_codec_cannot_take_is_bad_input(ferretdb, variety, tmp_path,
                                                                 comp, level, says):
    # gzip levels above 9 used to pass the option's bounds (0 to 22, zstd's), make the
    # compressor fail to start and crash the backup with SIGSEGV on the first document.
    dest = tmp_path / "bk"
    res = clirun.backup(ferretdb.uri, variety.name, dest, "--compress", comp,
                        "--compress-level", level, json_summary=False)
    assert res.rc == 2, res.explain()
    assert "compress-level" in res.stderr or "compress_level" in res.stderr, res.explain()
    if says:
        assert says in res.stderr, res.explain()
    assert not dest.exists() or not [p for p in dest.rglob("*") if p.is_file()], res.explain()


@pytest.mark.parametrize("comp,level", [("gzip", "1"), ("gzip", "9"), ("zstd", "22")])
def test_every_level_a_codec_takes_gives_exactly_the_source(ferretdb, variety, tmp_path, comp,
                                                            level):
    dest = tmp_path / "bk"
    _ok(clirun.backup(ferretdb.uri, variety.name, dest, "--step", "1d", "--compress", comp,
                      "--compress-level", level))
    backup = bc.assert_backup_matches(dest, variety)
    assert backup.windows and all(w.manifest["compression"] == comp for w in backup.windows)


def test_a_step_too_short_for_the_collection_is_bad_input(ferretdb, mongo, db_name, tmp_path):
    # a document from 2020 and 1s windows up to now: 190 million windows, which the plan used to
    # allocate (3 GB here; 69 GB over the whole ObjectId range) before reading any of them
    mongo[db_name].old.insert_one({"_id": datagen.make_oid(1_577_836_800, 1), "n": 1})
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk", "--step", "1s",
                        json_summary=False, timeout=60)
    assert res.rc == 2, res.explain()
    assert "--step: 1s cuts the range into" in res.stderr and "choose a longer step" in \
        res.stderr, res.explain()
    assert not list((tmp_path / "bk").rglob("*.manifest.json"))


def test_a_file_where_the_backup_folder_should_be_is_bad_input(ferretdb, variety, tmp_path):
    afile = tmp_path / "afile"
    afile.write_bytes(b"not a folder\n")
    res = clirun.backup(ferretdb.uri, variety.name, afile, json_summary=False, timeout=60)
    assert res.rc == 2, res.explain()
    assert "is not a folder" in res.stderr and str(afile) in res.stderr, res.explain()
    assert afile.read_bytes() == b"not a folder\n"


# ---------------------------------------------------------------- incremental


def test_incremental_after_new_inserts_copies_exactly_the_new_windows(ferretdb, mongo, db_name,
                                                                      tmp_path):
    coll = mongo[db_name]["events"]
    base = (int(time.time()) // DAY - 7) * DAY
    datagen.insert_spread(coll, base, base + 2 * DAY, 300, doc_size=512, seed=31)
    dest = tmp_path / "bk"

    # A full backup that stops four days ago (base + 2 days is older than that).
    t0 = int(time.time())
    first = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--step", "4h", "--settle-lag", "4d"))
    t0_end = int(time.time()) + 1
    assert first["documents"] == 300
    before = bc.snapshot(dest)
    old = bc.read_backup(dest)
    old_spans = _window_spans(old, db_name, "events")
    old_end = old_spans[-1][1]
    assert t0 - 4 * DAY <= old_end <= t0_end - 4 * DAY

    # New documents, all created after the end of the last completed window.
    new_ids = datagen.insert_spread(coll, int(time.time()) - 3 * DAY, int(time.time()) - 2 * HOUR,
                                    200, doc_size=512, seed=32)
    assert all(bc.oid_seconds(i) >= old_end for i in new_ids)

    t1 = int(time.time())
    inc = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "4h"))
    t2 = int(time.time()) + 1
    assert inc["mode"] == "incremental"
    assert inc["documents"] == 200

    new = bc.read_backup(dest)
    new_spans = [s for s in _window_spans(new, db_name, "events") if s not in old_spans]
    assert inc["windows_written"] == len(new_spans)
    # Exactly the windows after the last completed one, no gap, no overlap.
    assert new_spans[0][0] == old_end
    assert t1 - LAG <= new_spans[-1][1] <= t2 - LAG
    assert new_spans == _expected_cut(old_end, new_spans[-1][1], STEP_4H)
    new_docs = {k for w in new.windows_of(db_name, "events", "window")
                if (w.start_epoch, w.end_epoch) in new_spans for k, _ in w.docs}
    assert new_docs == {bc.id_key(i) for i in new_ids}

    after = bc.snapshot(dest)
    for path, state in before.items():
        if not path.endswith("/metadata.json"):  # refreshed on every run, like mongodump's
            assert after.get(path) == state, f"{path} was rewritten by the incremental run"
    bc.assert_backup_matches(dest, mongo[db_name])


def test_incremental_fills_a_hole_left_by_a_failed_window(ferretdb, mongo, db_name, tmp_path):
    """A window that failed while later ones completed is copied by the next incremental run."""
    coll = mongo[db_name]["events"]
    base = (int(time.time()) // DAY - 3) * DAY
    datagen.insert_spread(coll, base, base + DAY, 240, doc_size=512, seed=33)
    dest = tmp_path / "bk"
    _ok(clirun.backup(ferretdb.uri, db_name, dest, "--step", "4h"))
    # Make the second window of the day incomplete, as a failed or killed run leaves it.
    hole = sorted((dest / db_name / "events").glob("*.manifest.json"))[1]
    hole_data = hole.with_name(hole.name.replace(".manifest.json", ".bson"))
    hole_start, hole_end = (int(datetime.datetime.strptime(t, "%Y%m%dT%H%M%SZ")
                                .replace(tzinfo=datetime.timezone.utc).timestamp())
                            for t in hole.name.split(".")[0].split("_"))
    hole.unlink()
    hole_data.unlink()

    inc = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "4h",
                            "--parallel", "1"))
    written = {(w["start"], w["end"]) for w in inc["windows"]}
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    assert (fmt(hole_start), fmt(hole_end)) in written, inc["windows"]
    assert inc["windows_already_complete"] >= 5
    bc.assert_backup_matches(dest, mongo[db_name])


def test_data_a_failed_window_left_without_manifest_is_removed_by_the_next_run(
        ferretdb, mongo, db_name, tmp_path):
    """A window whose data landed but whose manifest did not (a full disk, a kill) is redone by
    the next run in sub-windows of other names; the leftover data goes, so the README's
    `cat *.bson | mongorestore` recipe reads every document once, in its latest version."""
    coll = mongo[db_name]["events"]
    base = (int(time.time()) // DAY - 3) * DAY
    datagen.insert_spread(coll, base, base + DAY, 240, doc_size=512, seed=34)
    dest = tmp_path / "bk"
    _ok(clirun.backup(ferretdb.uri, db_name, dest, "--step", "4h"))
    folder = dest / db_name / "events"
    lost = sorted(folder.glob("*.manifest.json"))[1]
    orphan = lost.with_name(lost.name.replace(".manifest.json", ".bson"))
    lost.unlink()
    changed = bson.decode_all(orphan.read_bytes())[0]["_id"]
    coll.update_one({"_id": changed}, {"$set": {"changed": True}})

    inc = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "4h"))
    assert orphan.name not in {w["data"] for w in inc["windows"]}, "the hole was not cut"
    assert not orphan.exists(), sorted(p.name for p in folder.iterdir())
    docs = [d for f in sorted(folder.glob("*.bson")) for d in bson.decode_all(f.read_bytes())]
    assert len(docs) == coll.count_documents({}) == len({d["_id"] for d in docs})
    assert [d.get("changed") for d in docs if d["_id"] == changed] == [True]
    bc.assert_backup_matches(dest, mongo[db_name])


def test_settle_lag_holds_back_documents_younger_than_it(ferretdb, mongo, db_name, tmp_path):
    coll = mongo[db_name]["recent"]
    old = datagen.insert_spread(coll, BASE, BASE + DAY, 50, doc_size=300, seed=35)
    now = int(time.time())
    young = datagen.insert_spread(coll, now - 180, now - 60, 10, doc_size=300, seed=36)
    dest = tmp_path / "bk"

    _ok(clirun.backup(ferretdb.uri, db_name, dest, "--step", "1d"))  # default lag: 10m
    bc.assert_same_docs(bc.read_backup(dest).docs(db_name, "recent"),
                        bc.source_docs(coll, lambda d: d["_id"] in old), "with a 10m lag")

    inc = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "1d",
                            "--settle-lag", "0s"))
    assert inc["documents"] == len(young)
    bc.assert_backup_matches(dest, mongo[db_name])


def test_windows_copied_before_their_time_are_copied_again_by_the_next_run(ferretdb, mongo,
                                                                         db_name, tmp_path):
    """A range reaching into the future used to record its empty future windows as complete,
    and incremental runs went on after them: documents created there later were never copied.
    Windows copied before their end are provisional (the range run warns), and the next run
    whose range meets them copies them again, with their own bounds, so no window overlaps
    another."""
    coll = mongo[db_name]["events"]
    now = int(time.time())
    old = datagen.insert_spread(coll, now - 2 * HOUR, now - HOUR, 20, doc_size=300, seed=41)
    dest = tmp_path / "bk"
    ranged = clirun.backup(ferretdb.uri, db_name, dest, "--from", "-3h", "--to", "+3h",
                           "--step", "1h", "--settle-lag", "0s")
    summary = _ok(ranged)
    assert summary["documents"] == len(old)
    assert any("provisional" in w for w in summary["warnings"]), ranged.explain()
    spans = _window_spans(bc.read_backup(dest), db_name, "events")

    # documents created after the range run, in a window it recorded
    late_at = int(time.time()) + 2
    late = [coll.insert_one({"_id": ObjectId(late_at.to_bytes(4, "big") + uuid.uuid4().bytes[:8]),
                             "late": i}).inserted_id for i in range(3)]
    while time.time() < late_at + 1.5:
        time.sleep(0.2)
    inc = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "1h",
                            "--settle-lag", "0s"))
    assert inc["documents"] >= len(late)
    backup = bc.read_backup(dest)
    assert _window_spans(backup, db_name, "events") == spans, "windows were cut anew or overlap"
    bc.assert_same_docs(backup.docs(db_name, "events"),
                        bc.source_docs(coll, lambda d: d["_id"] in set(old) | set(late)),
                        "after the incremental run")

    # windows that have closed since are settled: the same run once more copies again only
    # the one still open (if the hour has not turned meanwhile)
    closed_by = int(time.time())
    again = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "1h",
                              "--settle-lag", "0s"))
    ends = [datetime.datetime.strptime(w["end"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() for w in again["windows"]]
    assert len(ends) <= 1 and all(e > closed_by for e in ends), again["windows"]
    assert again["documents"] in (0, len(late)), again


def test_windows_closed_at_once_by_a_zero_lag_are_not_copied_again(ferretdb, mongo, db_name,
                                                                   tmp_path):
    """A run with --settle-lag 0s chose to close its windows at once: a later run with the
    default lag and nothing new copies nothing (a window is provisional only when it was
    copied before its end)."""
    coll = mongo[db_name]["events"]
    now = int(time.time())
    datagen.insert_spread(coll, now - 2 * HOUR, now - 60, 20, doc_size=300, seed=42)
    dest = tmp_path / "bk"
    first = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--step", "1h", "--settle-lag", "0s"))
    assert first["documents"] == 20 and first["warnings"] == []
    again = _ok(clirun.backup(ferretdb.uri, db_name, dest, "--incremental", "--step", "1h"))
    assert again["documents"] == 0 and again["windows_written"] == 0, again
    bc.assert_backup_matches(dest, mongo[db_name])


def test_incremental_reports_non_objectid_ids_it_cannot_see(ferretdb, shop, tmp_path):
    dest = tmp_path / "bk"
    res = clirun.backup(ferretdb.uri, shop.name, dest, "--incremental", "--collection", "mixed")
    summary = _ok(res)

    hits = [w for w in summary["warnings"] if "mixed" in w and re.search(r"\b20\b", w)]
    assert hits, f"no warning with the count of non-ObjectId ids:\n{res.explain()}"
    assert re.search(r"\b20\b.*not an ObjectId", res.stderr), res.explain()
    (coll,) = summary["collections"]
    assert coll["non_objectid_not_covered"] == 20

    backup = bc.read_backup(dest)
    assert backup.windows_of(shop.name, "mixed", "non-objectid") == []
    bc.assert_same_docs(backup.docs(shop.name, "mixed"),
                        bc.source_docs(shop.mixed, bc.is_objectid), "incremental mixed")


# ---------------------------------------------------------------- selection and ranges


def test_collection_selection_and_all_collections(ferretdb, mongo, db_name, tmp_path):
    for i, name in enumerate(("alpha", "bravo", "charlie")):
        datagen.insert_spread(mongo[db_name][name], BASE, BASE + DAY, 150, doc_size=300,
                              seed=40 + i)
    some = tmp_path / "some"
    summary = _ok(clirun.backup(ferretdb.uri, db_name, some, "--step", "1d",
                                "--collection", "alpha", "--collection", "charlie"))
    assert sorted(c["name"] for c in summary["collections"]) == ["alpha", "charlie"]
    bc.assert_backup_matches(some, mongo[db_name], ["alpha", "charlie"])
    assert not (some / db_name / "bravo").exists()

    every = tmp_path / "all"
    summary = _ok(clirun.backup(ferretdb.uri, db_name, every, "--step", "1d"))
    assert sorted(c["name"] for c in summary["collections"]) == ["alpha", "bravo", "charlie"]
    bc.assert_backup_matches(every, mongo[db_name])


def test_names_a_folder_cannot_hold_are_bad_input_naming_the_collection(ferretdb, mongo, db_name,
                                                                        tmp_path):
    """A collection whose escaped name is longer than a folder name may be, and a system
    collection named: exit 2 saying so (it was EIO "File name too long" about a path, and "not
    found" for a collection the server lists)."""
    long_name = "/" * 100  # MongoDB takes it; escaped ("%2F" each) it is 300 bytes
    mongo[db_name][long_name].insert_one({"a": 1})
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk", "--step", "1d")
    assert res.rc == 2, res.explain()
    assert f'collection name "{long_name}" is 300 bytes as a folder name (escaped), more than ' \
        "the 255 a folder name holds; to back up the others, name each with --collection" in \
        res.stderr, res.explain()
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk", "--collection", "system.js")
    assert res.rc == 2, res.explain()
    assert "--collection: system.js is a system collection of the server's, which is not " \
        "copied" in res.stderr, res.explain()


RANGE_FROM = BASE + DAY + 2 * HOUR
RANGE_TO = BASE + 2 * DAY + 30 * 60  # 2h, five times 4h, 30m: seven windows


@pytest.fixture(scope="module")
def range_backup(ferretdb, shop, tmp_path_factory):
    dest = tmp_path_factory.mktemp("range") / "bk"
    res = clirun.backup(ferretdb.uri, shop.name, dest, "--collection", "orders", "--step", "4h",
                        "--from", bc.rfc3339(RANGE_FROM), "--to", bc.rfc3339(RANGE_TO))
    return dest, res


def test_from_to_backs_up_exactly_that_range(shop, range_backup):
    dest, res = range_backup
    summary = _ok(res)
    assert summary["mode"] == "range"
    backup = bc.read_backup(dest)
    assert backup.collections() == {(shop.name, "orders")}
    bc.assert_same_docs(backup.docs(shop.name, "orders"),
                        bc.source_docs(shop.orders, bc.oid_time_in(RANGE_FROM, RANGE_TO)),
                        "range backup")
    spans = _window_spans(backup, shop.name, "orders")
    assert spans == _expected_cut(RANGE_FROM, RANGE_TO, STEP_4H)
    assert len(spans) == 7
    assert spans[0] == (RANGE_FROM, BASE + DAY + 4 * HOUR)  # clipped to the range
    assert spans[-1] == (BASE + 2 * DAY, RANGE_TO)
    assert backup.windows_of(shop.name, "orders", "non-objectid") == []
    assert summary["windows_written"] == len(_expected_cut(RANGE_FROM, RANGE_TO, STEP_4H))


def test_rerun_of_the_same_range_copies_nothing(ferretdb, shop, range_backup, tmp_path):
    dest, res = range_backup
    first = _ok(res)
    copy = tmp_path / "bk"
    shutil.copytree(dest, copy)
    before = bc.snapshot(copy)
    again = _ok(clirun.backup(ferretdb.uri, shop.name, copy, "--collection", "orders",
                              "--step", "4h", "--from", bc.rfc3339(RANGE_FROM),
                              "--to", bc.rfc3339(RANGE_TO)))
    assert again["windows_written"] == 0
    assert again["documents"] == 0
    assert again["windows_already_complete"] == first["windows_written"]
    after = bc.snapshot(copy)
    after.pop(f"{shop.name}/orders/metadata.json", None)
    before.pop(f"{shop.name}/orders/metadata.json", None)
    assert after == before


def test_parallel_1_and_4_write_the_same_backup(ferretdb, shop, tmp_path):
    outs = {}
    for n in (1, 4):
        dest = tmp_path / f"p{n}"
        _ok(clirun.backup(ferretdb.uri, shop.name, dest, "--collection", "orders",
                          "--step", "4h", "--from", bc.rfc3339(BASE),
                          "--to", bc.rfc3339(BASE + DAY), "--parallel", n))
        outs[n] = dest
    bc.assert_same_docs(bc.read_backup(outs[4]).docs(shop.name, "orders"),
                        bc.source_docs(shop.orders, bc.oid_time_in(BASE, BASE + DAY)),
                        "--parallel 4")

    def contents(dest):
        out = {}
        for p in sorted((dest / shop.name / "orders").iterdir()):
            if p.name.endswith(".manifest.json"):
                m = json.loads(p.read_text())
                m.pop("completed_at")
                out[p.name] = m
            else:
                out[p.name] = p.read_bytes()
        return out

    one, four = contents(outs[1]), contents(outs[4])
    assert sorted(one) == sorted(four)
    assert len([n for n in one if n.endswith(".manifest.json")]) == 6
    for name in one:
        assert one[name] == four[name], f"{name} differs between --parallel 1 and 4"

"""``cosmocopy verify`` of backups against a real FerretDB source: a fresh
backup verifies, and each kind of difference a user meets is reported in
the window where it is, by count, by SHA-256 and (--deep) by ``_id``: a
damaged data object, a document the backup lost, documents the source gained,
changed or lost since."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid

import bson
import pymongo
import pytest
from bson import ObjectId

import backupcheck as bc
import blobcheck
import clirun
import datagen

HOUR = 3600
DAY = 86400
STEP = 4 * HOUR
BASE = (int(time.time()) - DAY - 2 * HOUR) // STEP * STEP
ORDERS = 240
NON_OID = 10


def _drop(client, name):
    try:
        client.drop_database(name)
    except pymongo.errors.PyMongoError:
        pass


def backup_ok(*args, **kw) -> dict:
    res = clirun.backup(*args, **kw)
    assert res.rc == 0, res.explain()
    return res.summary


def verify(source_uri, db, backup, *extra, json_report=True, timeout=180) -> clirun.Result:
    args = ["verify", "--source", source_uri, "--db", db, "--backup", backup, *extra]
    if json_report:
        args.append("--json")
    return clirun.run(*args, timeout=timeout)


def verdicts(res: clirun.Result) -> dict:
    """{(collection, kind, start): verdict} of a --json report."""
    return {(v["collection"], v["kind"], v["start"]): v for v in res.summary["verdicts"]}


def assert_all_ok(res: clirun.Result, manifests, deep: bool) -> None:
    assert res.rc == 0, res.explain()
    report = res.summary
    assert report["command"] == "verify" and report["status"] == "ok", res.explain()
    assert report["windows_verified"] == len(manifests)
    assert report["windows_differing"] == 0
    got = verdicts(res)
    want = {(m["collection"], m["kind"], m["window"]["start"] if m["window"] else None): m
            for m in manifests}
    assert got.keys() == want.keys()
    for key, v in got.items():
        m = want[key]
        assert v["status"] == "ok" and v["sha256"] == "ok", v
        assert v["source_documents"] == v["backup_documents"] == m["documents"], v
        assert v["deep"] is deep
        assert v["missing"] == v["extra"] == v["different"] == 0, v
        assert v["examples"] == [] and v["problem"] is None, v
        if m["window"]:
            assert v["end"] == m["window"]["end"]


def windows_on_disk(dest, db, coll):
    """(manifest dict, manifest path, data path) of each window with documents, in time order."""
    out = []
    for p in sorted((dest / db / coll).glob("*.manifest.json")):
        m = json.loads(p.read_text())
        if m["kind"] == "window" and m["documents"] > 0:
            out.append((m, p, p.parent / m["data"]))
    return out


def describe(db, coll, m) -> str:
    return f"{db}.{coll} [{m['window']['start']}, {m['window']['end']})"


def last_line(res: clirun.Result) -> str:
    return res.stderr.strip().splitlines()[-1]


RAW = bson.codec_options.CodecOptions(document_class=bson.raw_bson.RawBSONDocument)


def oid_hex(raw: bytes) -> str:
    return str(bson.decode(raw)["_id"])


# ---------------------------------------------------------------- shared data


@pytest.fixture(scope="module")
def source(ferretdb):
    """``orders``: 240 documents over one day, 10 with non-ObjectId _ids;
    ``events``: 60 over the same day. Never changed by the tests."""
    client = ferretdb.client()
    db = client[f"ver_{uuid.uuid4().hex[:8]}"]
    datagen.insert_spread(db.orders, BASE, BASE + DAY, ORDERS, doc_size=400, seed=301)
    datagen.insert_non_oid(db.orders, NON_OID, seed=302)
    datagen.insert_spread(db.events, BASE, BASE + DAY, 60, doc_size=300, seed=303)
    yield db
    _drop(client, db.name)
    client.close()


@pytest.fixture(scope="module")
def folder(ferretdb, source, tmp_path_factory):
    dest = tmp_path_factory.mktemp("verify") / "bk"
    backup_ok(ferretdb.uri, source.name, dest, "--step", "4h")
    bc.assert_backup_matches(dest, source)
    return dest


@pytest.fixture
def scratch(folder, tmp_path):
    copy = tmp_path / "bk"
    shutil.copytree(folder, copy)
    return copy


@pytest.fixture
def changing(ferretdb, mongo, db_name, tmp_path):
    """A source of its own (100 documents over the day, 5 with non-ObjectId _ids) and a full
    backup of it, for the tests that change the source afterwards."""
    coll = mongo[db_name].orders
    datagen.insert_spread(coll, BASE, BASE + DAY, 100, doc_size=300, seed=304)
    datagen.insert_non_oid(coll, 5, seed=305)
    dest = tmp_path / "bk"
    backup_ok(ferretdb.uri, db_name, dest, "--step", "4h")
    return coll, dest


# ---------------------------------------------------------------- 10. a fresh backup


@pytest.mark.parametrize("deep", [False, True], ids=["counts", "deep"])
def test_a_fresh_folder_backup_verifies(ferretdb, source, folder, deep):
    extra = ["--deep"] if deep else []
    res = verify(ferretdb.uri, source.name, f"dir:{folder}", *extra)
    assert_all_ok(res, [w.manifest for w in bc.read_backup(folder).windows], deep)
    assert any(v["kind"] == "non-objectid" for v in res.summary["verdicts"])


def test_the_table_says_every_window_matches(ferretdb, source, folder):
    res = verify(ferretdb.uri, source.name, f"dir:{folder}", json_report=False)
    assert res.rc == 0, res.explain()
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["COLLECTION", "START", "END", "SOURCE", "BACKUP", "SHA256",
                                "STATUS"]
    n = len(bc.read_backup(folder).windows)
    rows = lines[1:-1]
    assert len(rows) == n, res.stdout
    assert all(r.split()[-2:] == ["ok", "ok"] for r in rows), res.stdout
    assert lines[-1] == f"verified {n} windows: all match"


@pytest.mark.parametrize("deep", [False, True], ids=["counts", "deep"])
def test_a_fresh_blob_backup_verifies(ferretdb, source, azurite, blob_container, deep):
    cs = ["--blob-connection-string", azurite.connection_string]
    where = f"azblob://{blob_container.container_name}/nightly"
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", source.name, "--to", where,
                     "--step", "4h", *cs, "--json")
    assert res.rc == 0, res.explain()
    backup = blobcheck.assert_blob_backup_matches(blob_container, "nightly", source)

    extra = ["--deep"] if deep else []
    res = verify(ferretdb.uri, source.name, where, *cs, *extra)
    assert_all_ok(res, [w.manifest for w in backup.windows], deep)
    assert azurite.account_key not in res.stdout + res.stderr


def test_a_blob_backup_verifies_through_a_sas_url(ferretdb, source, azurite, blob_container):
    url = azurite.sas_url(blob_container.container_name, "viasas")
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", source.name, "--to", url,
                     "--collection", "events", "--step", "4h", "--json")
    assert res.rc == 0, res.explain()
    backup = blobcheck.read_blob_backup(blob_container, "viasas")
    res = verify(ferretdb.uri, source.name, url, "--collection", "events", "--deep")
    assert_all_ok(res, [w.manifest for w in backup.windows], True)
    sig = url.split("sig=")[1].split("&")[0]
    assert sig not in res.stdout + res.stderr


# ---------------------------------------------------------------- 11. a damaged data object


@pytest.mark.parametrize("deep", [False, True], ids=["counts", "deep"])
def test_one_byte_changed_is_a_sha256_mismatch_in_that_window(ferretdb, source, scratch, deep):
    m, _, data = windows_on_disk(scratch, source.name, "orders")[2]
    raw = bytearray(data.read_bytes())
    # one digit of the third document's first "SKU-12345": still valid BSON, another document
    docs = bson.decode_all(bytes(raw), RAW)
    at = sum(len(d.raw) for d in docs[:2]) + docs[2].raw.index(b"SKU-") + 5
    assert chr(raw[at]).isdigit()
    raw[at] ^= 0x01
    data.write_bytes(bytes(raw))
    changed = oid_hex(docs[2].raw)

    extra = ["--deep"] if deep else []
    res = verify(ferretdb.uri, source.name, f"dir:{scratch}", *extra)
    assert res.rc == 3, res.explain()
    report = res.summary
    assert report["windows_differing"] == 1
    bad = verdicts(res)[("orders", "window", m["window"]["start"])]
    assert bad["status"] == "differs" and bad["sha256"] == "mismatch", bad
    assert data.name in bad["problem"] and "SHA-256" in bad["problem"], bad
    others = [v for v in report["verdicts"] if v["start"] != bad["start"] or
              v["collection"] != "orders"]
    assert len(others) == len(report["verdicts"]) - 1
    assert others and all(v["status"] == "ok" and v["sha256"] == "ok" for v in others)
    line = last_line(res)
    assert "1 of" in line and describe(source.name, "orders", m) in line, res.explain()
    if deep:
        assert (bad["missing"], bad["extra"], bad["different"]) == (0, 0, 1), bad
        assert bad["examples"] == [f'_id {{ "$oid" : "{changed}" }}: differs between the '
                                   "source and the backup (changed since?)"], bad
    else:
        assert (bad["source_documents"], bad["backup_documents"]) == (m["documents"],) * 2


@pytest.mark.parametrize("deep", [False, True], ids=["counts", "deep"])
def test_a_missing_data_object_differs(ferretdb, source, scratch, deep):
    m, _, data = windows_on_disk(scratch, source.name, "events")[1]
    data.unlink()
    extra = ["--deep"] if deep else []
    res = verify(ferretdb.uri, source.name, f"dir:{scratch}", "--collection", "events", *extra)
    assert res.rc == 3, res.explain()
    bad = verdicts(res)[("events", "window", m["window"]["start"])]
    assert bad["status"] == "differs" and bad["sha256"] == "mismatch", bad
    assert data.name in bad["problem"], bad
    # every window is in the report, the others fine
    assert res.summary["windows_verified"] == \
        len(list((scratch / source.name / "events").glob("*.manifest.json")))
    assert res.summary["windows_differing"] == 1
    assert describe(source.name, "events", m) in last_line(res)
    if deep:  # none of the window's documents is in the backup any more
        assert (bad["missing"], bad["extra"], bad["different"]) == (m["documents"], 0, 0), bad


def test_deep_says_why_data_whose_hash_matches_does_not_decode(ferretdb, source, scratch):
    """A manifest naming the wrong compression: the stored bytes match its SHA-256, yet the data
    cannot be read. --deep says why, as restore does, besides counting the documents it could
    not compare as missing."""
    m, path, data = windows_on_disk(scratch, source.name, "events")[1]
    assert m["compression"] == "none"
    path.write_text(json.dumps(dict(m, compression="gzip")))
    res = verify(ferretdb.uri, source.name, f"dir:{scratch}", "--collection", "events", "--deep")
    assert res.rc == 3, res.explain()
    bad = verdicts(res)[("events", "window", m["window"]["start"])]
    assert bad["status"] == "differs" and bad["sha256"] == "ok", bad
    assert data.name in bad["problem"] and "gzip" in bad["problem"], bad
    assert bad["missing"] == m["documents"], bad
    assert res.summary["windows_differing"] == 1


@pytest.mark.parametrize("deep", [False, True], ids=["counts", "deep"])
def test_a_hole_between_windows_differs_as_restore_refuses_it(ferretdb, source, scratch, deep):
    # a window that failed while later ones completed: its manifest and data are not there
    windows = windows_on_disk(scratch, source.name, "events")
    assert len(windows) >= 3
    m, manifest, data = windows[len(windows) // 2]
    manifest.unlink()
    data.unlink()
    extra = ["--deep"] if deep else []
    res = verify(ferretdb.uri, source.name, f"dir:{scratch}", "--collection", "events", *extra)
    assert res.rc == 3, res.explain()
    hole = verdicts(res)[("events", "window", m["window"]["start"])]
    assert hole["status"] == "differs" and hole["source_documents"] == m["documents"] > 0, hole
    assert hole["end"] == m["window"]["end"], hole
    assert "no completed window here" in hole["problem"], hole
    assert f"the source has {m['documents']} document" in hole["problem"], hole
    assert (hole["missing"], hole["extra"], hole["different"]) == \
        ((m["documents"] if deep else 0), 0, 0), hole
    # the other windows are verified and match; the summary names the hole
    left = len(list((scratch / source.name / "events").glob("*.manifest.json")))
    assert res.summary["windows_verified"] == left + 1
    assert res.summary["windows_differing"] == 1
    assert describe(source.name, "events", m) in last_line(res)
    # restore refuses the same backup for the same hole
    refused = clirun.run("restore", "--from", f"dir:{scratch}", "--to", ferretdb.uri, "--db",
                         source.name, "--collection", "events", "--to-db", "unused_hole",
                         "--dry-run", timeout=60)
    assert refused.rc == 1 and "has no completed window for [" in refused.stderr, \
        refused.explain()


# ---------------------------------------------------------------- 12. a document lost from a backup


def test_a_document_missing_from_a_self_consistent_backup(ferretdb, source, scratch):
    m, mpath, data = windows_on_disk(scratch, source.name, "orders")[3]
    docs = bson.decode_all(data.read_bytes(), RAW)
    assert len(docs) == m["documents"] >= 3
    lost = docs[len(docs) // 2]
    kept = b"".join(d.raw for d in docs if d is not lost)
    data.write_bytes(kept)
    m.update(sha256=hashlib.sha256(kept).hexdigest(), documents=len(docs) - 1,
             bytes=len(kept), stored_bytes=len(kept))
    mpath.write_text(json.dumps(m))
    bc.read_backup(scratch)  # the independent reader finds the backup consistent

    counts = verify(ferretdb.uri, source.name, f"dir:{scratch}", "--collection", "orders")
    assert counts.rc == 3, counts.explain()
    v = verdicts(counts)[("orders", "window", m["window"]["start"])]
    assert v["status"] == "differs" and v["sha256"] == "ok", v
    assert (v["source_documents"], v["backup_documents"]) == (len(docs), len(docs) - 1), v
    assert counts.summary["windows_differing"] == 1
    assert describe(source.name, "orders", m) in last_line(counts)

    deep = verify(ferretdb.uri, source.name, f"dir:{scratch}", "--collection", "orders",
                  "--deep")
    assert deep.rc == 3, deep.explain()
    v = verdicts(deep)[("orders", "window", m["window"]["start"])]
    assert (v["missing"], v["extra"], v["different"]) == (1, 0, 0), v
    (example,) = v["examples"]
    assert oid_hex(lost.raw) in example and example.startswith("_id "), example
    assert example.endswith(": in the source, not in the backup"), example


# ---------------------------------------------------------------- 13. the source changed since


def test_documents_added_to_the_source_after_the_backup(ferretdb, changing, tmp_path):
    coll, dest = changing
    db = coll.database.name
    # after the last window (which ends ten minutes ago): outside every window, not a difference
    coll.insert_one({"_id": ObjectId(), "late": True})
    res = verify(ferretdb.uri, db, f"dir:{dest}", "--deep")
    assert_all_ok(res, [w.manifest for w in bc.read_backup(dest).windows], True)

    # inside a backed-up window: that window differs, and --deep names the document
    m, _, _ = windows_on_disk(dest, db, "orders")[2]
    inside = datagen.make_oid(m["window"]["start_epoch"] + 77, 2**40)
    coll.insert_one({"_id": inside, "added": "after the backup"})
    counts = verify(ferretdb.uri, db, f"dir:{dest}")
    assert counts.rc == 3, counts.explain()
    v = verdicts(counts)[("orders", "window", m["window"]["start"])]
    assert v["status"] == "differs" and v["sha256"] == "ok", v
    assert v["source_documents"] == v["backup_documents"] + 1 == m["documents"] + 1, v
    assert counts.summary["windows_differing"] == 1
    assert describe(db, "orders", m) in last_line(counts)

    deep = verify(ferretdb.uri, db, f"dir:{dest}", "--deep")
    assert deep.rc == 3, deep.explain()
    v = verdicts(deep)[("orders", "window", m["window"]["start"])]
    assert (v["missing"], v["extra"], v["different"]) == (1, 0, 0), v
    assert v["examples"] == [f'_id {{ "$oid" : "{inside}" }}: in the source, not in the backup'], v


def test_a_document_without_an_objectid_added_to_the_source(ferretdb, changing):
    coll, dest = changing
    db = coll.database.name
    coll.insert_one({"_id": "key-added-later", "n": 1})
    res = verify(ferretdb.uri, db, f"dir:{dest}", "--deep")
    assert res.rc == 3, res.explain()
    v = verdicts(res)[("orders", "non-objectid", None)]
    assert v["status"] == "differs" and v["sha256"] == "ok", v
    assert (v["source_documents"], v["backup_documents"]) == (6, 5), v
    assert v["examples"] == ['_id "key-added-later": in the source, not in the backup'], v
    assert res.summary["windows_differing"] == 1
    assert f"{db}.orders (pass for non-ObjectId _id)" in last_line(res)


def test_documents_changed_or_deleted_in_the_source(ferretdb, changing):
    coll, dest = changing
    db = coll.database.name
    wins = windows_on_disk(dest, db, "orders")
    changed_w, deleted_w = wins[1][0], wins[4][0]

    def in_window(m):
        return {"_id": {"$gte": datagen.make_oid(m["window"]["start_epoch"], 0),
                        "$lt": datagen.make_oid(m["window"]["end_epoch"], 0)}}

    changed = coll.find_one(in_window(changed_w), sort=[("_id", 1)])["_id"]
    deleted = coll.find_one(in_window(deleted_w), sort=[("_id", -1)])["_id"]
    coll.update_one({"_id": changed}, {"$set": {"total": -1.25}})
    coll.delete_one({"_id": deleted})

    # by counts, a changed document goes unseen; the deleted one does not
    counts = verify(ferretdb.uri, db, f"dir:{dest}")
    assert counts.rc == 3, counts.explain()
    got = verdicts(counts)
    assert got[("orders", "window", changed_w["window"]["start"])]["status"] == "ok"
    v = got[("orders", "window", deleted_w["window"]["start"])]
    assert (v["source_documents"], v["backup_documents"]) == \
        (deleted_w["documents"] - 1, deleted_w["documents"]), v

    deep = verify(ferretdb.uri, db, f"dir:{dest}", "--deep")
    assert deep.rc == 3, deep.explain()
    got = verdicts(deep)
    assert deep.summary["windows_differing"] == 2
    v = got[("orders", "window", changed_w["window"]["start"])]
    assert (v["missing"], v["extra"], v["different"]) == (0, 0, 1), v
    assert str(changed) in v["examples"][0] and "differs between the source and the backup" \
        in v["examples"][0], v
    v = got[("orders", "window", deleted_w["window"]["start"])]
    assert (v["missing"], v["extra"], v["different"]) == (0, 1, 0), v
    assert str(deleted) in v["examples"][0] and "in the backup, not in the source" \
        in v["examples"][0], v


# ---------------------------------------------------------------- 14. a time range


def test_from_to_checks_only_the_windows_in_the_range(ferretdb, source, scratch):
    wins = windows_on_disk(scratch, source.name, "orders")
    # damage the first window: a range after it does not look at it
    first, _, first_data = wins[0]
    raw = bytearray(first_data.read_bytes())
    raw[10] ^= 0x01
    first_data.write_bytes(bytes(raw))

    lo, hi = BASE + STEP + HOUR, BASE + 3 * STEP  # overlaps the second and third windows
    res = verify(ferretdb.uri, source.name, f"dir:{scratch}", "--collection", "orders",
                 "--from", bc.rfc3339(lo), "--to", bc.rfc3339(hi), "--deep")
    assert res.rc == 0, res.explain()
    starts = sorted(v["start"] for v in res.summary["verdicts"])
    assert starts == [bc.rfc3339(BASE + STEP), bc.rfc3339(BASE + 2 * STEP)]
    assert res.summary["windows_verified"] == 2
    assert all(v["kind"] == "window" and v["status"] == "ok" for v in res.summary["verdicts"])

    # a range that holds the damaged window finds it, and only it
    res = verify(ferretdb.uri, source.name, f"dir:{scratch}", "--collection", "orders",
                 "--from", bc.rfc3339(BASE), "--to", bc.rfc3339(BASE + STEP + 1))
    assert res.rc == 3, res.explain()
    assert res.summary["windows_verified"] == 2
    assert res.summary["windows_differing"] == 1
    assert describe(source.name, "orders", first) in last_line(res)


# ---------------------------------------------------------------- a backup restored under another name


def test_source_db_verifies_only_the_collections_named(ferretdb, mongo, tmp_path):
    """--collection still chooses the collections when --source-db (or --target-db) says
    where the source holds them now: the others are not compared (they used to be, with no
    source documents, and verify exited 3)."""
    original, restored = f"two_{uuid.uuid4().hex[:8]}", f"two_restored_{uuid.uuid4().hex[:8]}"
    try:
        datagen.insert_spread(mongo[original].orders, BASE, BASE + DAY, 60, doc_size=200, seed=311)
        datagen.insert_spread(mongo[original].items, BASE, BASE + DAY, 40, doc_size=200, seed=312)
        backup_ok(ferretdb.uri, original, tmp_path / "bk", "--step", "4h")
        res = clirun.run("restore", "--from", f"dir:{tmp_path}/bk", "--to", ferretdb.uri,
                         "--db", original, "--collection", "orders", "--to-db", restored, "--json")
        assert res.rc == 0, res.explain()
        for flag in ("--source-db", "--target-db"):
            res = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--collection", "orders",
                         flag, restored)
            assert res.rc == 0, res.explain()
            assert {v["collection"] for v in res.summary["verdicts"]} == {"orders"}
            assert sum(v["source_documents"] for v in res.summary["verdicts"]) == 60
    finally:
        _drop(mongo, original)
        _drop(mongo, restored)


def test_a_backup_restored_into_another_database_verifies_with_source_db(ferretdb, mongo,
                                                                           tmp_path):
    """restore --to-db renames the database: verify --db (the backup's name) --source-db (the
    name it has now) compares the right pair; without the mapping the message says what to
    give. --source-collection does the same for a collection restored under a new name."""
    original, restored = f"demo_{uuid.uuid4().hex[:8]}", f"demo_restored_{uuid.uuid4().hex[:8]}"
    try:
        datagen.insert_spread(mongo[original].orders, BASE, BASE + DAY, 120, doc_size=300,
                              seed=301)
        datagen.insert_non_oid(mongo[original].orders, 3, seed=302)
        backup_ok(ferretdb.uri, original, tmp_path / "bk", "--step", "4h")
        res = clirun.run("restore", "--from", f"dir:{tmp_path}/bk", "--to", ferretdb.uri,
                         "--db", original, "--to-db", restored, "--json")
        assert res.rc == 0, res.explain()
        _drop(mongo, original)

        plain = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", json_report=False)
        assert plain.rc == 1, plain.explain()
        assert plain.stderr == (
            f"cosmocopy verify: error: database {original} not found on {ferretdb.uri.split('//')[1].rstrip('/')} "
            "(it has no collections); if it was restored under another name, give that name "
            "with --source-db\n"), plain.explain()

        # the same with a named collection (it was taken for windows that all differ: exit 3)
        named = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--collection", "orders",
                       json_report=False)
        assert named.rc == 1, named.explain()
        assert "give that name with --source-db" in named.stderr, named.explain()

        for deep in ([], ["--deep"]):
            mapped = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--source-db", restored,
                            *deep)
            assert mapped.rc == 0, mapped.explain()
            report = mapped.summary
            assert report["windows_differing"] == 0
            assert report["windows_verified"] == len(report["verdicts"]) >= 7
            assert sum(v["source_documents"] for v in report["verdicts"]) == 123

        # the words: --target-db is where the backup was restored (restore's --to-db)
        mapped = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--target-db", restored)
        assert mapped.rc == 0, mapped.explain()
        assert mapped.summary["windows_differing"] == 0
        assert sum(v["source_documents"] for v in mapped.summary["verdicts"]) == 123
        both = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--target-db", restored,
                      "--source-db", original)
        assert both.rc == 2, both.explain()
        assert "--target-db and --source-db both say where the source holds the backup now" \
            in both.stderr, both.explain()

        # one collection renamed too
        res = clirun.run("restore", "--from", f"dir:{tmp_path}/bk", "--to", ferretdb.uri,
                         "--db", original, "--to-db", restored, "--collection", "orders",
                         "--to-collection", "orders_copy", "--json")
        assert res.rc == 0, res.explain()
        mapped = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--source-db", restored,
                        "--collection", "orders", "--source-collection", "orders_copy", "--deep")
        assert mapped.rc == 0, mapped.explain()
        mapped = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--target-db", restored,
                        "--collection", "orders", "--target-collection", "orders_copy", "--deep")
        assert mapped.rc == 0, mapped.explain()
        mongo[restored].orders_copy.delete_one({"_id": {"$type": "objectId"}})
        changed = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--source-db", restored,
                         "--collection", "orders", "--source-collection", "orders_copy")
        assert changed.rc == 3, changed.explain()
        assert changed.summary["windows_differing"] == 1

        two = verify(ferretdb.uri, original, f"dir:{tmp_path}/bk", "--source-db", restored,
                     "--source-collection", "orders_copy")
        assert two.rc == 2, two.explain()
        assert "--source-collection needs exactly one --collection, not 0" in two.stderr
    finally:
        _drop(mongo, original)
        _drop(mongo, restored)


def test_a_name_neither_side_has_or_a_mistyped_source_db_says_so(ferretdb, source, folder):
    """A --db that neither the source nor the backup holds is the wrong name: exit 2 naming
    --db (it was exit 1 with a hint to give --source-db). A --source-db the source lacks is
    said so, naming --source-db (every window was reported as differing: exit 3)."""
    res = verify(ferretdb.uri, "nosuchdb", f"dir:{folder}", json_report=False)
    assert res.rc == 2, res.explain()
    assert res.stderr.startswith(f"cosmocopy verify: error: --db: dir:{folder} holds no backup "
                                 "of database nosuchdb"), res.explain()
    assert "--source-db" not in res.stderr
    res = verify(ferretdb.uri, source.name, f"dir:{folder}", "--source-db", "typo_db",
                 json_report=False)
    assert res.rc == 1, res.explain()
    assert res.stderr.startswith("cosmocopy verify: error: --source-db: database typo_db not "
                                 "found on "), res.explain()
    assert "differ" not in res.stdout


def test_a_renamed_replica_named_without_target_collection_gets_the_hint(ferretdb, source,
                                                                         mongo):
    target_db = f"ren_{uuid.uuid4().hex[:8]}"
    try:
        res = clirun.run("replicate", "--source", ferretdb.uri, "--db", source.name,
                         "--collection", "events", "--target", ferretdb.uri, "--target-db",
                         target_db, "--target-collection", "renamed", "--step", "4h",
                         "--json", timeout=180)
        assert res.rc == 0, res.explain()
        res = verify(ferretdb.uri, source.name, ferretdb.uri, "--collection", "events",
                     "--target-db", target_db, json_report=False)
        assert res.rc == 2, res.explain()
        assert "holds no completed window of" in res.stderr
        assert "(a replica written under another name is named with --target-collection)" in \
            res.stderr, res.explain()
        res = verify(ferretdb.uri, source.name, ferretdb.uri, "--collection", "events",
                     "--target-db", target_db, "--target-collection", "renamed")
        assert res.rc == 0, res.explain()
    finally:
        _drop(mongo, target_db)


def test_a_collection_named_cosmocopy_is_left_out_with_a_warning(ferretdb, mongo, db_name,
                                                               tmp_path):
    """README: without --collection every collection is copied but views, system.* and a
    replica's catalog, cosmocopy, which is left out with a warning (it was an info line that
    --quiet hid, and the --json summary did not list)."""
    datagen.insert_spread(mongo[db_name].orders, BASE, BASE + DAY, 30, doc_size=200, seed=7)
    datagen.insert_spread(mongo[db_name].cosmocopy, BASE, BASE + DAY, 5, doc_size=200, seed=8)
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk", "--step", "4h", "--quiet")
    assert res.rc == 0, res.explain()
    warning = f"{db_name}.cosmocopy is a replica's catalog of cosmocopy: left out"
    assert any(warning in w for w in res.summary["warnings"]), res.summary["warnings"]
    assert warning in res.stderr
    assert [c["name"] for c in res.summary["collections"]] == ["orders"]
    # named, it is copied
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk2", "--step", "4h", "--collection",
                        "cosmocopy")
    assert res.rc == 0 and res.summary["documents"] == 5, res.explain()

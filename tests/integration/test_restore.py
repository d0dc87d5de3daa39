"""``cosmocopy restore`` against a real FerretDB, from folder backups and from
backups in Azurite: what lands in the target is read back with pymongo and
compared with the source byte for byte (raw BSON, so field order and value
types count); damaged, missing and gapped backups are refused before a single
document is written."""

from __future__ import annotations

import datetime
import json
import shutil
import time
import uuid

import pymongo
import pytest
from bson import Binary, Int64, ObjectId, Regex, Timestamp

import backupcheck as bc
import blobcheck
import clirun
import datagen

HOUR = 3600
DAY = 86400
STEP = 4 * HOUR
# Documents over one day that ended more than two hours ago: a full backup
# with --step 4h (default settle lag 10m) cuts 7 or 8 windows, the last ones
# empty; few windows keep FerretDB's per-window scans cheap.
BASE = (int(time.time()) - DAY - 2 * HOUR) // STEP * STEP
ORDERS = 240
NON_OID = 10

TYPES = [
    Binary(b"\x00\x01\xff", 0), Binary(b"0123456789abcdef", 5), Binary(b"user", 0x80),
    Regex("^a.*b$", "imx"), Timestamp(1_700_000_000, 7), 2**31 - 1, -2**31,
    Int64(2**63 - 1), Int64(-2**63), Int64(5), 5, 1.7976931348623157e308, 5e-324, -1.5,
    datetime.datetime(1900, 1, 1), {}, [], ObjectId(), "é😀\n\t\"\\",
    False, None, {"a": {"b": {"c": [1, {"d": 2}, "x"]}}}, "",
]


def _drop(client, name):
    try:
        client.drop_database(name)
    except pymongo.errors.PyMongoError:
        pass


def _ok(res: clirun.Result) -> dict:
    assert res.rc == 0, res.explain()
    summary = res.summary
    assert summary["status"] == "ok" and summary["errors"] == [], res.explain()
    return summary


def restore(backup: str, target_uri: str, *extra, env=None, json_summary=True,
            timeout=180) -> clirun.Result:
    args = ["restore", "--from", backup, "--to", target_uri, *extra]
    if json_summary:
        args.append("--json")
    return clirun.run(*args, env=env, timeout=timeout)


def dir_backup(dest) -> str:
    return f"dir:{dest}"


def assert_db_equals(target_db, source_db, collections, predicate=None, rename=None):
    """Exactly the source's documents (those passing ``predicate``), byte
    for byte, in each collection; and no other collection in the target."""
    rename = rename or {}
    expected_names = sorted(rename.get(c, c) for c in collections)
    assert sorted(target_db.list_collection_names()) == expected_names
    for c in collections:
        bc.assert_same_docs(bc.source_docs(target_db[rename.get(c, c)]),
                            bc.source_docs(source_db[c], predicate),
                            f"restored {target_db.name}.{rename.get(c, c)}")


def assert_untouched(client, name):
    """Nothing was written: the database does not exist, or holds no document."""
    if name in client.list_database_names():
        db = client[name]
        for c in db.list_collection_names():
            assert db[c].count_documents({}) == 0, f"{name}.{c} has documents"
        assert db.list_collection_names() == [], f"{name} has collections"


def windows_on_disk(dest, db, coll):
    """(start, end, manifest path, data path) of each window manifest, in time order."""
    out = []
    for p in sorted((dest / db / coll).glob("*.manifest.json")):
        m = json.loads(p.read_text())
        if m["kind"] == "window":
            out.append((m["window"]["start_epoch"], m["window"]["end_epoch"], p,
                        p.parent / m["data"]))
    return out


def last_line(res: clirun.Result) -> str:
    return res.stderr.strip().splitlines()[-1]


def flip_byte(data: bytes, at: int | None = None) -> bytes:
    b = bytearray(data)
    b[len(b) // 2 if at is None else at] ^= 0x01
    return bytes(b)


# ---------------------------------------------------------------- shared data


@pytest.fixture(scope="module")
def source(ferretdb):
    """``orders``: 240 documents over one day plus 10 whose _id is not an
    ObjectId, two secondary indexes; ``types``: one document per unusual
    BSON value FerretDB accepts."""
    client = ferretdb.client()
    db = client[f"src_{uuid.uuid4().hex[:8]}"]
    datagen.insert_spread(db.orders, BASE, BASE + DAY, ORDERS, doc_size=400, seed=201)
    datagen.insert_non_oid(db.orders, NON_OID, seed=202)
    db.orders.create_index("seq")
    db.orders.create_index([("customer.tier", 1), ("seq", -1)], name="tier_seq", unique=True)
    db.types.insert_many([{"_id": datagen.make_oid(BASE + 61 * i, i), "n": i, "v": v}
                          for i, v in enumerate(TYPES)])
    yield db
    _drop(client, db.name)
    client.close()


@pytest.fixture(scope="module")
def folder(ferretdb, source, tmp_path_factory):
    """A full backup of ``source`` into a folder, --step 4h."""
    dest = tmp_path_factory.mktemp("restore") / "bk"
    _ok(clirun.backup(ferretdb.uri, source.name, dest, "--step", "4h"))
    backup = bc.assert_backup_matches(dest, source)
    assert len(backup.windows_of(source.name, "orders", "window")) >= 7
    assert len(backup.windows_of(source.name, "orders", "non-objectid")) == 1
    return dest


@pytest.fixture
def target(mongo, db_name):
    """An empty database to restore into (dropped after the test)."""
    return mongo[db_name]


@pytest.fixture
def scratch(folder, tmp_path):
    """A private copy of the folder backup, free to damage."""
    copy = tmp_path / "bk"
    shutil.copytree(folder, copy)
    return copy


# ---------------------------------------------------------------- 1. exact content


def test_restore_from_a_folder_equals_the_source(ferretdb, source, folder, target):
    summary = _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name))
    assert_db_equals(target, source, ["orders", "types"])

    manifests = bc.read_backup(folder).windows
    assert summary["command"] == "restore"
    assert summary["target_database"] == target.name
    assert summary["windows_verified"] == len(manifests)
    assert summary["windows_written"] == len(manifests)
    assert summary["documents_rejected"] == 0 and summary["rejected"] == []
    assert summary["dry_run"] is False
    planned = {(p["collection"], p["data"]) for p in summary["planned"]}
    assert planned == {(w.manifest["collection"], w.manifest["data"]) for w in manifests}
    # the non-ObjectId pass came along
    assert target.orders.count_documents({"_id": {"$type": "string"}}) == 2


def test_restore_of_one_collection_into_another_name(ferretdb, source, folder, target):
    _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                "--collection", "types", "--to-collection", "kinds"))
    assert_db_equals(target, source, ["types"], rename={"types": "kinds"})


def test_restore_from_azurite_equals_the_source(ferretdb, source, target, azurite,
                                                blob_container):
    cs = ["--blob-connection-string", azurite.connection_string]
    where = f"azblob://{blob_container.container_name}/nightly"
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", source.name, "--to", where,
                     "--step", "4h", *cs, "--json")
    _ok(res)
    blobcheck.assert_blob_backup_matches(blob_container, "nightly", source)

    summary = _ok(restore(where, ferretdb.uri, "--to-db", target.name, *cs))
    assert_db_equals(target, source, ["orders", "types"])
    assert azurite.account_key not in json.dumps(summary)


# Names a folder or a blob name cannot hold as written: '/' escaped as %2F, '\' (which Blob
# Storage reads as '/') as %5C, and a '%' as %25 wherever that escape could be misread (a
# collection literally named "a%2Fb" beside "a/b").
AWKWARD = ["a/b", "a%2Fb", "x/./y", "100%", "a", "a\\b"]


@pytest.mark.parametrize("where", ["folder", "blob"])
def test_collection_names_with_a_slash_back_up_list_and_restore(ferretdb, mongo, db_name, target,
                                                               azurite, blob_container, tmp_path,
                                                               where):
    src = mongo[f"src_{uuid.uuid4().hex[:8]}"]
    src_name = src.name
    for i, name in enumerate(AWKWARD):
        src[name].insert_many([{"_id": bc.ObjectId.from_datetime(
            datetime.datetime.fromtimestamp(BASE + 60 * (i * 3 + j), datetime.timezone.utc)),
            "name": name, "j": j} for j in range(3)])
    cs = ["--blob-connection-string", azurite.connection_string] if where == "blob" else []
    to = (f"azblob://{blob_container.container_name}/nightly" if where == "blob"
          else dir_backup(tmp_path / "bk"))
    _ok(clirun.run("backup", "--source", ferretdb.uri, "--db", src.name, "--to", to, "--full",
                   "--step", "1d", *cs, "--json"))
    if where == "blob":
        backup = blobcheck.assert_blob_backup_matches(blob_container, "nightly", src, AWKWARD)
        names = {b.name for b in blob_container.list_blobs(name_starts_with="nightly/")}
        assert any(n.startswith(f"nightly/{src.name}/a%2Fb/") for n in names), sorted(names)
        assert any(n.startswith(f"nightly/{src.name}/a%252Fb/") for n in names), sorted(names)
    else:
        backup = bc.assert_backup_matches(tmp_path / "bk", src, AWKWARD)
        folders = sorted(p.name for p in (tmp_path / "bk" / src.name).iterdir())
        assert folders == ["100%", "a", "a%252Fb", "a%2Fb", "a%5Cb", "x%2F.%2Fy"], folders
    assert {c for _, c in backup.collections()} == set(AWKWARD)

    listed = clirun.run("list", "--from", to, *cs, "--json")
    assert listed.rc == 0, listed.explain()
    counts = dict.fromkeys(AWKWARD, 0)
    for w in json.loads(listed.stdout)["windows"]:
        counts[w["collection"]] += w["documents"]
    assert counts == {name: 3 for name in AWKWARD}, listed.explain()

    _ok(restore(to, ferretdb.uri, "--to-db", target.name, *cs))
    assert_db_equals(target, src, AWKWARD)
    one = _ok(restore(to, ferretdb.uri, "--collection", "a/b", "--to-db", target.name + "_1", *cs))
    assert one["documents"] == 3
    assert mongo[target.name + "_1"].list_collection_names() == ["a/b"]
    _drop(mongo, target.name + "_1")
    _drop(mongo, src_name)


def test_restore_from_a_sas_url(ferretdb, source, target, azurite, blob_container):
    url = azurite.sas_url(blob_container.container_name, "viasas")
    _ok(clirun.run("backup", "--source", ferretdb.uri, "--db", source.name, "--to", url,
                   "--collection", "types", "--step", "1d", "--json"))
    res = restore(url, ferretdb.uri, "--to-db", target.name)
    _ok(res)
    assert_db_equals(target, source, ["types"])
    sig = url.split("sig=")[1].split("&")[0]
    assert sig not in res.stdout + res.stderr


@pytest.mark.parametrize("fmt,comp", [("bson", "gzip"), ("bson", "zstd"), ("jsonl", "none"),
                                      ("jsonl", "zstd")])
def test_restore_of_compressed_and_jsonl_backups(ferretdb, source, target, tmp_path, fmt, comp):
    dest = tmp_path / "bk"
    _ok(clirun.backup(ferretdb.uri, source.name, dest, "--step", "1d", "--format", fmt,
                      "--compress", comp))
    for w in bc.read_backup(dest).windows:
        assert (w.manifest["format"], w.manifest["compression"]) == (fmt, comp)
    _ok(restore(dir_backup(dest), ferretdb.uri, "--to-db", target.name))
    assert_db_equals(target, source, ["orders", "types"])


# ---------------------------------------------------------------- 2. point in time


def test_until_restores_exactly_the_documents_created_before_it(ferretdb, source, folder,
                                                                target):
    until = BASE + 9 * HOUR + 17 * 60 + 23  # inside the third 4h window
    res = restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                  "--collection", "orders", "--to-collection", "orders_pit",
                  "--until", bc.rfc3339(until))
    summary = _ok(res)
    assert_db_equals(target, source, ["orders"], predicate=bc.oid_time_in(0, until),
                     rename={"orders": "orders_pit"})
    restored = target.orders_pit.count_documents({})
    assert 0 < restored < ORDERS

    # the windows before T whole, the window holding T (partly), none after; no non-ObjectId pass
    spans = [(p["start"], p["end"], p["partial"]) for p in summary["planned"]]
    assert spans == [(bc.rfc3339(BASE), bc.rfc3339(BASE + STEP), False),
                     (bc.rfc3339(BASE + STEP), bc.rfc3339(BASE + 2 * STEP), False),
                     (bc.rfc3339(BASE + 2 * STEP), bc.rfc3339(BASE + 3 * STEP), True)]
    assert all(p["kind"] == "window" for p in summary["planned"])
    assert any("not an ObjectId" in w for w in summary["warnings"]), summary["warnings"]


def test_until_on_a_window_boundary_takes_whole_windows(ferretdb, source, folder, target):
    until = BASE + 2 * STEP
    summary = _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                          "--collection", "orders", "--until", bc.rfc3339(until)))
    assert_db_equals(target, source, ["orders"], predicate=bc.oid_time_in(0, until))
    assert [(p["start"], p["partial"]) for p in summary["planned"]] == \
        [(bc.rfc3339(BASE), False), (bc.rfc3339(BASE + STEP), False)]


# ---------------------------------------------------------------- 3. damaged backups


def test_a_tampered_window_in_a_folder_stops_the_restore_before_any_write(
        ferretdb, mongo, source, scratch, target):
    _, _, _, victim = windows_on_disk(scratch, source.name, "orders")[2]
    victim.write_bytes(flip_byte(victim.read_bytes()))

    res = restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name, "--drop",
                  "--copy-indexes", "--parallel", "2")
    assert res.rc == 1, res.explain()
    last = res.stderr.strip().splitlines()[-1]
    assert victim.name in last and "SHA-256" in last, res.explain()
    assert_untouched(mongo, target.name)
    assert res.summary["windows_written"] == 0


def test_a_tampered_blob_stops_the_restore_before_any_write(ferretdb, mongo, source, target,
                                                            azurite, blob_container):
    cs = ["--blob-connection-string", azurite.connection_string]
    where = f"azblob://{blob_container.container_name}/bk"
    _ok(clirun.run("backup", "--source", ferretdb.uri, "--db", source.name, "--to", where,
                   "--step", "4h", *cs, "--json"))
    backup = blobcheck.read_blob_backup(blob_container, "bk")
    victim = [w for w in backup.windows_of(source.name, "orders", "window") if w.docs][3]
    name = f"bk/{source.name}/orders/{victim.manifest['data']}"
    blob = blob_container.get_blob_client(name)
    blob.upload_blob(flip_byte(blob.download_blob().readall()), overwrite=True)

    res = restore(where, ferretdb.uri, "--to-db", target.name, *cs)
    assert res.rc == 1, res.explain()
    last = res.stderr.strip().splitlines()[-1]
    assert victim.manifest["data"] in last and "SHA-256" in last, res.explain()
    assert_untouched(mongo, target.name)


@pytest.mark.parametrize("field,value,says", [("compression", "zstd", "zstd"),
                                               ("format", "jsonl", "line")],
                         ids=["compression", "format"])
def test_a_manifest_that_misnames_its_data_stops_the_restore_before_any_write(
        ferretdb, mongo, source, scratch, target, field, value, says):
    """The SHA-256 of the data still matches: the check pass decodes every window too (it only
    hashed them, and the restore failed halfway, the other windows written)."""
    _, _, manifest, victim = [w for w in windows_on_disk(scratch, source.name, "orders")
                              if w[3].stat().st_size > 0][2]
    m = json.loads(manifest.read_text())
    m[field] = value
    manifest.write_text(json.dumps(m))

    res = restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name, "--parallel", "2")
    assert res.rc == 1, res.explain()
    assert victim.name in last_line(res), res.explain()
    assert_untouched(mongo, target.name)
    assert res.summary["windows_written"] == 0


def test_a_manifest_that_describes_another_windows_data_stops_the_restore(
        ferretdb, mongo, source, scratch, target):
    """One window's manifest copied over the next one's, keeping its bounds: data, SHA-256 and
    counts all agree, yet the documents are not of that window. The restore used to write the
    first window's documents twice and the second's never, and exit 0."""
    full = [w for w in windows_on_disk(scratch, source.name, "orders") if w[3].stat().st_size > 0]
    (_, _, first, _), (_, _, second, _) = full[0], full[1]
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    for field in ("documents", "bytes", "stored_bytes", "data", "sha256", "first_id", "last_id"):
        b[field] = a[field]
    second.write_text(json.dumps(b))

    res = restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name)
    assert res.rc == 1, res.explain()
    assert a["data"] in last_line(res) and "outside the window" in last_line(res), res.explain()
    assert b["window"]["start"] in last_line(res), res.explain()
    assert_untouched(mongo, target.name)


def test_a_folder_without_a_backup_or_without_the_database_is_bad_input(ferretdb, mongo,
                                                                        folder, target,
                                                                        tmp_path):
    """Like a folder that does not exist (exit 2): the person named the wrong one."""
    empty = tmp_path / "empty"
    empty.mkdir()
    res = restore(dir_backup(empty), ferretdb.uri, "--to-db", target.name, json_summary=False)
    assert res.rc == 2, res.explain()
    assert f"--from: dir:{empty} holds no backup" in res.stderr, res.explain()
    res = restore(dir_backup(folder), ferretdb.uri, "--db", "nosuch", "--to-db", target.name,
                  json_summary=False)
    assert res.rc == 2, res.explain()
    assert "--db: " in res.stderr and "holds no backup of database nosuch" in res.stderr, \
        res.explain()
    assert_untouched(mongo, target.name)


def test_a_missing_data_file_stops_the_restore_before_any_write(ferretdb, mongo, source,
                                                                scratch, target):
    _, _, _, victim = windows_on_disk(scratch, source.name, "orders")[1]
    victim.unlink()

    res = restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name)
    assert res.rc == 1, res.explain()
    assert victim.name in res.stderr.strip().splitlines()[-1], res.explain()
    assert_untouched(mongo, target.name)


def test_a_truncated_data_file_stops_the_restore_before_any_write(ferretdb, mongo, source,
                                                                  scratch, target):
    _, _, _, victim = windows_on_disk(scratch, source.name, "orders")[0]
    victim.write_bytes(victim.read_bytes()[:-7])

    res = restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name)
    assert res.rc == 1, res.explain()
    assert victim.name in res.stderr.strip().splitlines()[-1], res.explain()
    assert_untouched(mongo, target.name)


# ---------------------------------------------------------------- 4. gaps


def test_a_gap_is_refused_and_allow_gaps_restores_the_rest(ferretdb, mongo, source, scratch,
                                                           target):
    start, end, manifest, data = windows_on_disk(scratch, source.name, "orders")[2]
    manifest.unlink()
    data.unlink()

    res = restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name)
    assert res.rc == 1, res.explain()
    last = res.stderr.strip().splitlines()[-1]
    assert f"[{bc.rfc3339(start)}, {bc.rfc3339(end)})" in last, res.explain()
    assert "--allow-gaps" in last
    assert_untouched(mongo, target.name)

    _ok(restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name, "--allow-gaps"))
    outside = lambda d: not bc.oid_time_in(start, end)(d)  # noqa: E731
    assert_db_equals(target, source, ["orders", "types"], predicate=outside)
    assert target.orders.count_documents({}) < ORDERS + NON_OID


def test_until_inside_a_gap_is_refused_and_until_before_it_is_not(ferretdb, mongo, source,
                                                                  scratch, target):
    start, end, manifest, data = windows_on_disk(scratch, source.name, "orders")[2]
    manifest.unlink()
    data.unlink()

    # the documents of [start, T) were never backed up: not a point in time the backup holds
    res = restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name,
                  "--collection", "orders", "--until", bc.rfc3339(start + HOUR))
    assert res.rc == 1, res.explain()
    assert f"[{bc.rfc3339(start)}, {bc.rfc3339(end)})" in last_line(res), res.explain()
    assert_untouched(mongo, target.name)

    # a hole from T on does not matter
    _ok(restore(dir_backup(scratch), ferretdb.uri, "--to-db", target.name,
                "--collection", "orders", "--until", bc.rfc3339(start)))
    assert_db_equals(target, source, ["orders"], predicate=bc.oid_time_in(0, start))


# ---------------------------------------------------------------- 5. dry run


def test_dry_run_prints_the_plan_and_writes_nothing(ferretdb, mongo, source, folder, target):
    res = restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name, "--dry-run",
                  json_summary=False)
    assert res.rc == 0, res.explain()
    manifests = [w.manifest for w in bc.read_backup(folder).windows]
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["DATABASE", "COLLECTION", "START", "END", "DOCUMENTS", "BYTES",
                                "STORED", "DATA"]
    for m in manifests:
        hits = [ln for ln in lines if m["data"] in ln.split() and m["collection"] in ln.split()]
        assert len(hits) == 1, f"{m['collection']}/{m['data']} not listed once:\n{res.stdout}"
        assert str(m["documents"]) in hits[0].split(), hits[0]
        if m["window"]:
            assert m["window"]["start"] in hits[0] and m["window"]["end"] in hits[0]
    docs = sum(m["documents"] for m in manifests)
    assert (f"dry run: would restore {len(manifests)} windows, {docs} documents"
            in lines[-1]), res.stdout
    assert f"into database {target.name}; nothing was written" in lines[-1]
    assert_untouched(mongo, target.name)
    assert target.name not in mongo.list_database_names()


def test_dry_run_json_matches_the_manifests(ferretdb, mongo, source, folder, target):
    summary = _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                          "--dry-run"))
    assert summary["dry_run"] is True
    assert summary["windows_written"] == 0
    by_data = {(p["collection"], p["data"]): p for p in summary["planned"]}
    manifests = {(w.manifest["collection"], w.manifest["data"]): w.manifest
                 for w in bc.read_backup(folder).windows}
    assert by_data.keys() == manifests.keys()
    for key, m in manifests.items():
        p = by_data[key]
        assert (p["database"], p["kind"], p["documents"], p["bytes"], p["stored_bytes"]) == \
            (m["database"], m["kind"], m["documents"], m["bytes"], m["stored_bytes"]), key
        assert p["partial"] is False
    assert target.name not in mongo.list_database_names()


def test_dry_run_touches_no_server(folder):
    with clirun.silent_listener() as port:
        uri = f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=2000"
        res = restore(dir_backup(folder), uri, "--dry-run", timeout=30)
    assert res.rc == 0, res.explain()
    assert res.summary["dry_run"] is True


# ---------------------------------------------------------------- 6. drop, rerun


def _spoil(target, source):
    """The target's orders: an extra document, a changed copy of a source
    document, and the first 20 source documents as they are."""
    first = list(source.orders.find({"_id": {"$type": "objectId"}}).sort("_id", 1).limit(21))
    target.orders.insert_many(first[1:])
    changed = dict(first[0])
    changed["total"] = -1.0
    changed["extra_field"] = "not in the backup"
    target.orders.insert_one(changed)
    extra = {"_id": datagen.make_oid(BASE + 600, 2**63), "stray": True}
    target.orders.insert_one(extra)
    return extra["_id"]


def test_drop_makes_the_target_equal_to_the_source(ferretdb, source, folder, target):
    _spoil(target, source)
    _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name, "--drop"))
    assert_db_equals(target, source, ["orders", "types"])


def test_without_drop_extra_documents_stay_and_a_rerun_is_harmless(ferretdb, source, folder,
                                                                   target):
    stray = _spoil(target, source)
    _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name))
    # every source document as the backup holds it (the changed one replaced), plus the stray
    expected = bc.source_docs(source.orders)
    got = bc.source_docs(target.orders)
    assert got.pop(bc.id_key(stray)) is not None
    bc.assert_same_docs(got, expected, "orders after a restore without --drop")
    before = bc.source_docs(target.orders)

    # Two FerretDB 1.24 (SQLite) limits of updates that match existing documents, so the rerun
    # stays within them: more than 100 such statements in flight at once (in one command or
    # several) hang the server for good; and replacing a document that holds a regular
    # expression with options ("types") panics its connection ("regex: option not implemented").
    again = _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                        "--collection", "orders", "--write-batch-size", "20", "--parallel", "2"))
    assert again["windows_written"] == len(bc.read_backup(folder).windows_of(source.name,
                                                                            "orders"))
    assert bc.source_docs(target.orders) == before
    bc.assert_same_docs(bc.source_docs(target.types), bc.source_docs(source.types), "types")


def test_insert_mode_keeps_what_the_target_has(ferretdb, source, folder, target):
    _spoil(target, source)
    changed = target.orders.find_one({"extra_field": {"$exists": True}})
    summary = _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                          "--collection", "orders", "--mode", "insert"))
    assert summary["documents_rejected"] == 0
    assert target.orders.find_one({"_id": changed["_id"]}) == changed  # not replaced
    assert target.orders.count_documents({}) == ORDERS + NON_OID + 1


# ---------------------------------------------------------------- 7. indexes


def test_copy_indexes_creates_the_indexes_of_metadata_json(ferretdb, source, folder, target):
    _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name, "--copy-indexes"))
    assert_db_equals(target, source, ["orders", "types"])
    meta = bc.read_backup(folder).metadata[(source.name, "orders")]
    want = {ix["name"]: ix for ix in meta["indexes"]}
    got = {ix["name"]: ix for ix in target.orders.list_indexes()}
    assert sorted(got) == sorted(want) == ["_id_", "seq_1", "tier_seq"]
    for name, ix in want.items():
        assert list(got[name]["key"].items()) == list(ix["key"].items()), name
        assert bool(got[name].get("unique")) == bool(ix.get("unique")), name
    assert got["tier_seq"].get("unique") is True


def test_without_copy_indexes_only_the_id_index_exists(ferretdb, source, folder, target):
    _ok(restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                "--collection", "orders"))
    assert [ix["name"] for ix in target.orders.list_indexes()] == ["_id_"]


# ---------------------------------------------------------------- 8. throttled target


def test_restore_through_a_throttling_target_is_exact(ferretdb, source, folder, target,
                                                      cosmos_proxy):
    # ~250 writes of ~400 bytes cost ~1,350 RU; at 400 RU/s with a half-second bucket the
    # proxy cuts bulk writes part-way (16500 writeErrors for the rest) again and again.
    proxy = cosmos_proxy(ferretdb, ru_per_second=400, burst_seconds=0.5)
    res = restore(dir_backup(folder), proxy.uri(), "--to-db", target.name,
                  "--retry-base-ms", "20", timeout=240)
    summary = _ok(res)
    assert_db_equals(target, source, ["orders", "types"])
    counters = proxy.counters()
    assert counters["throttled"] > 0 and counters["partial_writes"] > 0, counters
    assert summary["throttle_events"] > 0, res.explain()
    assert summary["target_request_units"]["charged"] > 0, res.explain()


def test_target_max_ru_paces_the_restore(ferretdb, source, folder, target):
    # "types": 23 documents in writes of 5, about 130 RU estimated; at 50 RU/s, one second of
    # it in the bucket at the start, the writes wait more than a second for the governor
    started = time.monotonic()
    res = restore(dir_backup(folder), ferretdb.uri, "--to-db", target.name,
                  "--collection", "types", "--write-batch-size", "5", "--target-max-ru", "50")
    elapsed = time.monotonic() - started
    summary = _ok(res)
    assert_db_equals(target, source, ["types"])
    assert elapsed > 1.0
    assert summary["pacing_wait_seconds"] > 0.5, res.explain()


# ---------------------------------------------------------------- 9. several databases


def test_a_backup_of_two_databases_needs_db(ferretdb, mongo, source, folder, target, tmp_path):
    other = mongo[f"oth_{uuid.uuid4().hex[:8]}"]
    try:
        datagen.insert_spread(other.things, BASE, BASE + HOUR, 20, doc_size=300, seed=203)
        both = tmp_path / "both"
        shutil.copytree(folder, both)
        _ok(clirun.backup(ferretdb.uri, other.name, both, "--step", "4h"))

        res = restore(dir_backup(both), ferretdb.uri, "--to-db", target.name)
        assert res.rc == 2, res.explain()
        last = res.stderr.strip().splitlines()[-1]
        assert source.name in last and other.name in last and "--db" in last, res.explain()
        assert_untouched(mongo, target.name)

        _ok(restore(dir_backup(both), ferretdb.uri, "--db", other.name, "--to-db", target.name))
        assert_db_equals(target, other, ["things"])
    finally:
        _drop(mongo, other.name)


# ---------------------------------------------------------------- faults on the target


def test_cut_replies_are_sent_again_and_the_content_is_exact(ferretdb, source, folder, target,
                                                             cosmos_proxy):
    # the 2nd and 5th charged requests are applied by FerretDB, then their answers are cut
    # half-way and the connection closed; the engine sends them again, and must count the
    # documents already there as written
    proxy = cosmos_proxy(ferretdb, drop_on={2, 5})
    res = restore(dir_backup(folder), proxy.uri(), "--to-db", target.name,
                  "--write-batch-size", "30", "--retry-base-ms", "20", "--parallel", "2")
    summary = _ok(res)
    assert_db_equals(target, source, ["orders", "types"])
    assert proxy.counters()["dropped"] == 2
    assert summary["retries"] >= 2, res.explain()


def test_a_document_the_target_refuses_is_named_and_the_rest_restored(ferretdb, mongo, db_name,
                                                                     tmp_path, cosmos_proxy):
    src = mongo[f"big_{uuid.uuid4().hex[:8]}"]
    try:
        datagen.insert_spread(src.orders, BASE, BASE + 8 * HOUR, 40, doc_size=400, seed=204)
        big = datagen.make_oid(BASE + HOUR, 2**50)
        src.orders.insert_one({"_id": big, "blob": "x" * 5000})
        dest = tmp_path / "bk"
        _ok(clirun.backup(ferretdb.uri, src.name, dest, "--step", "4h"))

        proxy = cosmos_proxy(ferretdb, max_document_bytes=2000)
        res = restore(dir_backup(dest), proxy.uri(), "--to-db", db_name)
        assert res.rc == 1, res.explain()
        summary = res.summary
        assert summary["documents_rejected"] == 1
        (line,) = summary["rejected"]
        assert str(big) in line and f"{db_name}.orders" in line, line
        assert str(big) in res.stderr
        # every other document, those of the refused one's window too
        target = mongo[db_name]
        bc.assert_same_docs(bc.source_docs(target.orders),
                            bc.source_docs(src.orders, lambda d: d["_id"] != big),
                            "restored without the refused document")
    finally:
        _drop(mongo, src.name)

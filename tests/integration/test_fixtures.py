"""Smoke tests of the test infrastructure itself (FerretDB helper, datagen)."""

from __future__ import annotations

import datetime as dt

import bson
import pymongo

import datagen

DAY = 86400
START = 1_700_000_000  # 2023-11-14T22:13:20Z
END = START + 3 * DAY


def test_insert_spread_over_three_days(mongo, db_name):
    coll = mongo[db_name]["orders"]
    ids = datagen.insert_spread(coll, START, END, 500, doc_size=1024, seed=7)

    assert len(ids) == 500
    assert len(set(ids)) == 500
    assert ids == sorted(ids)
    assert coll.count_documents({}) == 500

    lo = dt.datetime.fromtimestamp(START, dt.timezone.utc)
    hi = dt.datetime.fromtimestamp(END, dt.timezone.utc)
    for _id in ids:
        assert isinstance(_id, bson.ObjectId)
        assert lo <= _id.generation_time < hi
    # Spread, not clumped: every day gets a fair share.
    per_day = [sum(1 for i in ids if i.generation_time.timestamp() // DAY == d)
               for d in range(START // DAY, END // DAY + 1)]
    assert sum(per_day) == 500 and max(per_day) < 250

    # Stored ids carry the same times as returned ones.
    for doc in coll.find({}, {"_id": 1, "pad": 1}):
        assert lo <= doc["_id"].generation_time < hi
    sizes = [len(bson.encode(d)) for d in coll.find().limit(50)]
    assert all(900 <= s <= 1300 for s in sizes), sizes

    # Deterministic for a seed.
    again = list(datagen.iter_spread(START, END, 500, doc_size=1024, seed=7))
    assert [d["_id"] for d in again] == ids


def test_make_oid():
    oid = datagen.make_oid(START, 0x0102030405060708)
    assert oid.binary == START.to_bytes(4, "big") + bytes(range(1, 9))
    assert oid.generation_time == dt.datetime.fromtimestamp(START, dt.timezone.utc)


def test_insert_non_oid(mongo, db_name):
    coll = mongo[db_name]["mixed"]
    ids = datagen.insert_non_oid(coll, 20)
    assert coll.count_documents({}) == 20
    kinds = {type(i).__name__ for i in ids}
    assert {"str", "int", "Int64", "Binary"} <= kinds


def test_restart_keeps_data(fresh_ferretdb):
    fdb = fresh_ferretdb
    port = fdb.port
    with fdb.client() as c:
        datagen.insert_spread(c.db.coll, START, END, 300, doc_size=512, seed=1)

    fdb.restart()
    assert fdb.port == port
    with fdb.client() as c:
        assert c.db.coll.count_documents({}) == 300

    fdb.kill()
    assert not fdb.running
    with pymongo.MongoClient(fdb.uri, serverSelectionTimeoutMS=300) as c:
        try:
            c.admin.command("ping")
            raise AssertionError("server still answers after kill()")
        except pymongo.errors.PyMongoError:
            pass

    fdb.restart(hard=True)
    with fdb.client() as c:
        assert c.db.coll.count_documents({}) == 300
        assert c.db.coll.find_one({"seq": 299})["seq"] == 299

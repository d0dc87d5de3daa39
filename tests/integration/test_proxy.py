"""The Cosmos imitation proxy (tests/support/cosmosproxy.py), checked with
pymongo through the proxy and with a direct connection to FerretDB: what a
driver sees (codes, messages, partial bulk results) and what the server
really holds afterwards."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time

import bson
import pymongo
import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import (AutoReconnect, BulkWriteError, CursorNotFound, OperationFailure,
                            ServerSelectionTimeoutError)

from clirun import REPO_ROOT
from cosmosproxy import CosmosProxy
from ferretdb import FerretDB
from tlscerts import make_certs

SUPPORT = REPO_ROOT / "tests" / "support"

RAW = CodecOptions(document_class=RawBSONDocument)
RETRY_AFTER = re.compile(r"RetryAfterMs=(\d+),")


@pytest.fixture
def connect():
    """``connect(proxy, query=..., **kwargs)``: a pymongo client through the
    proxy, without driver retries; closed after the test."""
    clients = []

    def make(proxy, query: str = "directConnection=true", **kwargs):
        kwargs.setdefault("serverSelectionTimeoutMS", 5000)
        kwargs.setdefault("retryReads", False)
        kwargs.setdefault("retryWrites", False)
        client = pymongo.MongoClient(proxy.uri(query), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def doc_sizes(coll, query=None) -> list[int]:
    return [len(d.raw) for d in coll.with_options(codec_options=RAW).find(query or {})]


def ids_in(coll) -> list:
    return sorted(d["_id"] for d in coll.find({}, {"_id": 1}))


def write_cost(proxy, docs) -> list[float]:
    return [proxy.write_doc_ru + len(bson.encode(d)) / 1024 * proxy.write_kb_ru for d in docs]


def read_charge(proxy, sizes) -> float:
    return proxy.base_ru + len(sizes) * proxy.read_doc_ru + sum(sizes) / 1024 * proxy.read_kb_ru


# ---------------------------------------------------------------- passthrough

def test_unlimited_budget_is_a_transparent_passthrough(ferretdb, mongo, db_name, cosmos_proxy,
                                                       connect):
    direct = mongo[db_name]["mixed"]
    direct.insert_many([{"_id": i, "n": i, "s": "x" * (i * 7), "f": i / 3,
                         "d": {"nested": [i, str(i)]}, "b": bson.Binary(bytes([i % 256]) * 5),
                         "when": bson.Timestamp(1_700_000_000, i), "big": bson.Int64(2**40 + i)}
                        for i in range(300)])
    proxy = cosmos_proxy(ferretdb)
    coll = connect(proxy)[db_name]["mixed"]

    through = [d.raw for d in coll.with_options(codec_options=RAW).find().sort("_id", 1)
               .batch_size(40)]
    assert through == [d.raw for d in direct.with_options(codec_options=RAW).find()
                       .sort("_id", 1)]

    coll.insert_many([{"_id": 1000 + i} for i in range(5)])
    coll.update_many({"_id": {"$gte": 1000}}, {"$set": {"seen": True}})
    coll.delete_one({"_id": 1004})
    assert list(direct.find({"_id": {"$gte": 1000}})) == [
        {"_id": 1000 + i, "seen": True} for i in range(4)]
    counters = proxy.counters()
    assert counters["throttled"] == 0 and counters["ru_charged"] > 0


# ---------------------------------------------------------------- 16500 shapes

@pytest.mark.parametrize("settings, code_name, has_retry_after", [
    ({}, "TooManyRequests", True),
    ({"throttle_codename": "RequestRateTooLarge"}, "RequestRateTooLarge", True),
    ({"throttle_codename": None}, None, True),
    ({"throttle_retry_after": False}, None, False),
])
def test_throttle_reply_shapes(ferretdb, db_name, cosmos_proxy, connect, settings, code_name,
                               has_retry_after):
    proxy = cosmos_proxy(ferretdb, ru_per_second=0, **settings)  # the bucket never fills
    coll = connect(proxy)[db_name]["c"]

    with pytest.raises(OperationFailure) as info:
        coll.find_one()
    details = info.value.details
    assert info.value.code == 16500
    assert details.get("codeName") == code_name
    assert details["ok"] == 0
    errmsg = details["errmsg"]
    if has_retry_after:
        assert RETRY_AFTER.search(errmsg).group(1) == "1000"  # documented fallback for ru=0
        assert "TooManyRequests (429); Substatus: 3200" in errmsg
        assert "Request rate is large" in errmsg and "_t" not in details
    else:
        assert "RetryAfterMs" not in errmsg
        assert errmsg.startswith('Message: {"Errors":["Request rate is large"]}')
        assert "StatusCode: 429, SubStatusCode: 3200" in errmsg
        assert details["_t"] == "OKMongoResponse" and details["$err"] == errmsg
    assert coll.database.command("ping")["ok"] == 1.0  # free commands still pass
    assert proxy.counters()["throttled"] == 1


def test_retry_after_is_the_time_until_the_bucket_refills(ferretdb, mongo, db_name,
                                                          cosmos_proxy, connect):
    mongo[db_name]["c"].insert_many([{"_id": i, "pad": "p" * 1000} for i in range(40)])
    sizes = doc_sizes(mongo[db_name]["c"])
    proxy = cosmos_proxy(ferretdb, ru_per_second=10)
    coll = connect(proxy)[db_name]["c"]

    started = time.monotonic()
    assert len(list(coll.find().batch_size(100))) == 40  # allowed: the bucket is full
    debt = read_charge(proxy, sizes) - 10
    with pytest.raises(OperationFailure) as info:
        coll.find_one()
    elapsed_ms = (time.monotonic() - started) * 1000
    retry_ms = int(RETRY_AFTER.search(info.value.details["errmsg"]).group(1))
    expected = debt / 10 * 1000
    assert expected - elapsed_ms - 1 <= retry_ms <= expected + 1

    proxy.configure(retry_after_ms=7)
    with pytest.raises(OperationFailure) as info:
        coll.find_one()
    assert "RetryAfterMs=7," in info.value.details["errmsg"]


# ---------------------------------------------------------------- partial writes

@pytest.mark.parametrize("ordered", [True, False])
def test_insert_partially_succeeds_when_the_budget_runs_out(ferretdb, mongo, db_name,
                                                            cosmos_proxy, connect, ordered):
    docs = [{"_id": i, "pad": "q" * (50 + 10 * i)} for i in range(10)]
    proxy = cosmos_proxy(ferretdb, ru_per_second=30)
    # The model: base_ru, then each statement while the 30 tokens last.
    left, k = 30 - proxy.base_ru, 0
    for cost in write_cost(proxy, docs):
        left -= cost
        if left < 0:
            break
        k += 1
    assert 0 < k < len(docs)

    with pytest.raises(BulkWriteError) as info:
        connect(proxy)[db_name]["c"].insert_many(docs, ordered=ordered)
    details = info.value.details
    assert details["nInserted"] == k
    expected_indices = [k] if ordered else list(range(k, len(docs)))
    assert [e["index"] for e in details["writeErrors"]] == expected_indices
    assert {e["code"] for e in details["writeErrors"]} == {16500}
    assert all(e["errmsg"].startswith("Error=16500, RetryAfterMs=") for e in details["writeErrors"])
    assert ids_in(mongo[db_name]["c"]) == list(range(k))
    counters = proxy.counters()
    assert counters["partial_writes"] == 1 and counters["throttled"] == 1


def test_partial_write_hook_cuts_body_array_commands(ferretdb, mongo, db_name, cosmos_proxy,
                                                     connect):
    mongo[db_name]["c"].insert_one({"_id": 2})  # a duplicate inside the forwarded part
    proxy = cosmos_proxy(ferretdb, partial_write_at=4)
    db = connect(proxy)[db_name]

    # db.command puts the documents in the body array, not a document sequence.
    reply = db.command({"insert": "c", "documents": [{"_id": i} for i in range(8)],
                        "ordered": False})
    assert reply["ok"] == 1.0 and reply["n"] == 3
    assert [(e["index"], e["code"]) for e in reply["writeErrors"]] == [
        (2, 11000), (4, 16500), (5, 16500), (6, 16500), (7, 16500)]
    assert ids_in(mongo[db_name]["c"]) == [0, 1, 2, 3]
    # One use only (partial_write_count=1): the hook has reset itself.
    assert proxy.partial_write_at is None
    assert db.command({"insert": "c", "documents": [{"_id": i} for i in range(10, 18)]})["n"] == 8


def test_partial_update_and_delete(ferretdb, mongo, db_name, cosmos_proxy, connect):
    direct = mongo[db_name]["c"]
    direct.insert_many([{"_id": i, "v": 0} for i in range(6)])
    proxy = cosmos_proxy(ferretdb, partial_write_at=2)
    coll = connect(proxy)[db_name]["c"]

    with pytest.raises(BulkWriteError) as info:
        # The upsert comes first: FerretDB 1.24 numbers "upserted" among the
        # upserts only, so a later index would test FerretDB, not the proxy.
        coll.bulk_write([pymongo.UpdateOne({"_id": 99}, {"$set": {"v": 1}}, upsert=True),
                         pymongo.UpdateOne({"_id": 1}, {"$set": {"v": 1}}),
                         pymongo.UpdateOne({"_id": 2}, {"$set": {"v": 1}}),
                         pymongo.UpdateOne({"_id": 3}, {"$set": {"v": 1}})])
    details = info.value.details
    assert (details["nMatched"], details["nModified"], details["nUpserted"]) == (1, 1, 1)
    assert details["upserted"] == [{"index": 0, "_id": 99}]
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(2, 16500)]
    assert sorted(d["_id"] for d in direct.find({"v": 1})) == [1, 99]

    proxy.configure(partial_write_at=1)
    with pytest.raises(BulkWriteError) as info:
        coll.bulk_write([pymongo.DeleteOne({"_id": i}) for i in (1, 2, 3)], ordered=False)
    details = info.value.details
    assert details["nRemoved"] == 1
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(1, 16500), (2, 16500)]
    assert ids_in(direct) == [0, 2, 3, 4, 5, 99]


@pytest.mark.parametrize("ordered", [False, True], ids=["unordered", "ordered"])
def test_documents_over_max_document_bytes_are_refused_one_by_one(ferretdb, mongo, db_name,
                                                                  cosmos_proxy, connect, ordered):
    direct = mongo[db_name]["c"]
    proxy = cosmos_proxy(ferretdb, max_document_bytes=1000)
    coll = connect(proxy)[db_name]["c"]
    docs = [{"_id": i, "pad": "x" * (2000 if i in (2, 5) else 100)} for i in range(8)]
    big = len(bson.encode(docs[2]))

    with pytest.raises(BulkWriteError) as info:
        coll.insert_many(docs, ordered=ordered)
    details = info.value.details
    refused = [2] if ordered else [2, 5]
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(i, 16) for i in refused]
    errmsg = details["writeErrors"][0]["errmsg"]
    assert errmsg.startswith("Error=16, Details='Response status code does not indicate "
                             "success: RequestEntityTooLarge (413);")
    assert f"the document is {big} bytes, the limit is 1000" in errmsg
    assert "RetryAfterMs" not in errmsg and "TooManyRequests" not in errmsg
    # the rest of the batch is applied: all the others, or (ordered) those before it
    kept = [0, 1] if ordered else [0, 1, 3, 4, 6, 7]
    assert details["nInserted"] == len(kept)
    assert ids_in(direct) == kept
    counters = proxy.counters()
    assert counters["too_large"] == len(refused) and counters["throttled"] == 0
    assert counters["by_command"]["insert"]["ru"] == pytest.approx(
        proxy.base_ru + sum(write_cost(proxy, [docs[i] for i in kept])))

    # updates as a bulk replace-upsert writes them: the size is the replacement's
    with pytest.raises(BulkWriteError) as info:
        coll.bulk_write([pymongo.ReplaceOne({"_id": 20}, {"pad": "y" * 2000}, upsert=True),
                         pymongo.ReplaceOne({"_id": 21}, {"pad": "y"}, upsert=True),
                         pymongo.ReplaceOne({"_id": 0}, {"pad": "z"}, upsert=True)],
                        ordered=False)
    details = info.value.details
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(0, 16)]
    assert details["upserted"] == [{"index": 1, "_id": 21}]
    assert details["nMatched"] == 1
    assert direct.find_one({"_id": 0}) == {"_id": 0, "pad": "z"}
    assert direct.find_one({"_id": 20}) is None

    # documents within the limit go through untouched
    assert coll.insert_one({"_id": 30, "pad": "w" * 800}).inserted_id == 30


def test_write_throttle_command_answers_the_whole_write(ferretdb, mongo, db_name, cosmos_proxy,
                                                        connect):
    proxy = cosmos_proxy(ferretdb, ru_per_second=0, write_throttle="command")
    with pytest.raises(OperationFailure) as info:
        connect(proxy)[db_name]["c"].insert_many([{"_id": i} for i in range(3)])
    assert info.value.code == 16500 and not isinstance(info.value, BulkWriteError)
    assert ids_in(mongo[db_name]["c"]) == []


def test_throttle_rate_throttles_at_random_whatever_the_budget(ferretdb, mongo, db_name,
                                                                cosmos_proxy, connect):
    mongo[db_name]["c"].insert_many([{"_id": i} for i in range(10)])
    proxy = cosmos_proxy(ferretdb, throttle_rate=0.4, seed=7)  # no budget at all
    db = connect(proxy)[db_name]
    answers = []
    for _ in range(200):
        try:
            db.command({"find": "c", "filter": {"_id": 3}})
            answers.append("ok")
        except OperationFailure as e:
            assert e.code == 16500 and "RetryAfterMs=1," in str(e)
            answers.append("throttled")
    throttled = answers.count("throttled")
    assert 40 <= throttled <= 120, throttled  # 80 expected; the RNG is seeded
    assert proxy.counters()["throttled"] == throttled
    # the same seed, the same draws
    proxy.configure(throttle_rate=0.4, seed=7)
    again = []
    for _ in range(200):
        try:
            db.command({"find": "c", "filter": {"_id": 3}})
            again.append("ok")
        except OperationFailure:
            again.append("throttled")
    assert again == answers

    # every write cut part-way: at least one statement goes, never all of them
    proxy.configure(throttle_rate=1.0)
    for round_ in range(5):
        docs = [{"_id": 100 + 10 * round_ + i} for i in range(8)]
        reply = db.command({"insert": "d", "documents": docs, "ordered": False})
        assert 1 <= reply["n"] <= 7
        assert {e["code"] for e in reply["writeErrors"]} == {16500}
        assert reply["n"] + len(reply["writeErrors"]) == 8
    assert proxy.counters()["partial_writes"] == 5
    with pytest.raises(OperationFailure) as info:  # one statement cannot be cut part-way
        db.command({"insert": "d", "documents": [{"_id": 1}]})
    assert info.value.code == 16500
    assert mongo[db_name]["d"].count_documents({"_id": 1}) == 0


# ---------------------------------------------------------------- server-side retry

def test_server_side_retry_waits_for_the_budget(ferretdb, mongo, db_name, cosmos_proxy, connect):
    docs = [{"_id": i, "pad": "r" * 1000} for i in range(30)]
    proxy = cosmos_proxy(ferretdb, ru_per_second=100, server_side_retry=True, ssr_limit_ms=5000)
    coll = connect(proxy)[db_name]["c"]
    coll.insert_many(docs)  # never cut in SSR mode: the bucket goes into debt
    debt = proxy.base_ru + sum(write_cost(proxy, docs)) - 100
    assert ids_in(mongo[db_name]["c"]) == list(range(30))

    started = time.monotonic()
    assert coll.count_documents({}) == 30
    assert time.monotonic() - started >= debt / 100 * 0.8
    counters = proxy.counters()
    assert counters["ssr_waits"] == 1 and counters["throttled"] == 0
    assert counters["ssr_timeouts"] == 0


@pytest.mark.parametrize("apply_write", [False, True])
def test_server_side_retry_times_out_with_code_50(ferretdb, mongo, db_name, cosmos_proxy,
                                                  connect, apply_write):
    proxy = cosmos_proxy(ferretdb, ru_per_second=0.5, server_side_retry=True, ssr_limit_ms=300,
                         ssr_apply_write_on_timeout=apply_write)
    coll = connect(proxy)[db_name]["c"]
    coll.insert_one({"_id": "first"})  # allowed, leaves the bucket ~5 RU in debt (10 s)

    started = time.monotonic()
    with pytest.raises(OperationFailure) as info:
        coll.insert_one({"_id": "late"})
    assert 0.29 <= time.monotonic() - started < 5
    assert info.value.code == 50
    assert info.value.details["codeName"] == "ExceededTimeLimit"
    assert info.value.details["errmsg"] == "Request timed out. Retries due to rate limiting: True."
    assert ids_in(mongo[db_name]["c"]) == (["first", "late"] if apply_write else ["first"])
    assert proxy.counters()["ssr_timeouts"] == 1


# ---------------------------------------------------------------- cursor faults

def test_cursor_not_found_on_the_second_getmore(ferretdb, mongo, db_name, cosmos_proxy, connect):
    mongo[db_name]["c"].insert_many([{"_id": i} for i in range(10)])
    proxy = cosmos_proxy(ferretdb, cursor_not_found_on={2})
    seen = []
    with pytest.raises(CursorNotFound) as info:
        for doc in connect(proxy)[db_name]["c"].find().sort("_id", 1).batch_size(2):
            seen.append(doc["_id"])
    assert seen == [0, 1, 2, 3]  # firstBatch and the first getMore
    assert info.value.code == 43 and info.value.details["codeName"] == "CursorNotFound"
    assert proxy.counters()["cursor_not_found"] == 1


def test_empty_batches_keep_the_cursor_alive(ferretdb, mongo, db_name, cosmos_proxy, connect):
    mongo[db_name]["c"].insert_many([{"_id": i, "v": i * i} for i in range(10)])
    proxy = cosmos_proxy(ferretdb, empty_batch_on={1, 3})
    cursor = connect(proxy)[db_name]["c"].find().sort("_id", 1).batch_size(3)
    through = list(cursor)
    # pymongo's iterator stops at an empty page although the cursor id is live
    # (the trap the engine must avoid); asking again continues the scan.
    assert len(through) == 3 and cursor.alive
    while cursor.alive:
        through.extend(cursor)
    assert through == list(mongo[db_name]["c"].find().sort("_id", 1))
    counters = proxy.counters()
    assert counters["empty_batches"] == 2
    assert counters["by_command"]["getMore"]["requests"] >= 3 + 2


def test_dropped_reply_raises_autoreconnect_then_a_new_connection_works(
        ferretdb, mongo, db_name, cosmos_proxy, connect):
    proxy = cosmos_proxy(ferretdb, drop_on={2})
    coll = connect(proxy)[db_name]["c"]
    coll.insert_one({"_id": 1})
    with pytest.raises(AutoReconnect):
        coll.insert_one({"_id": 2})  # applied upstream, but the reply is cut
    assert coll.find_one({"_id": 2}) == {"_id": 2}
    assert ids_in(mongo[db_name]["c"]) == [1, 2]
    assert proxy.counters()["dropped"] == 1


# ---------------------------------------------------------------- statistics, counters

def test_get_last_request_statistics_reports_the_model_charge(ferretdb, mongo, db_name,
                                                             cosmos_proxy, connect):
    mongo[db_name]["c"].insert_many([{"_id": i, "pad": "s" * (i * 37)} for i in range(25)])
    sizes = doc_sizes(mongo[db_name]["c"], {"_id": {"$lt": 20}})
    proxy = cosmos_proxy(ferretdb)
    db = connect(proxy, maxPoolSize=1)[db_name]  # one connection: the statistics are per connection

    assert len(list(db["c"].find({"_id": {"$lt": 20}}).batch_size(100))) == 20
    stats = db.command("getLastRequestStatistics")
    assert stats["_t"] == "GetRequestStatisticsResponse" and stats["CommandName"] == "find"
    assert stats["RequestCharge"] == pytest.approx(read_charge(proxy, sizes), abs=1e-9)
    assert isinstance(stats["RequestDurationInMilliSeconds"], float)
    assert stats["RequestDurationInMilliSeconds"] > 0

    proxy.configure(ru_per_second=0)
    with pytest.raises(OperationFailure):
        db["c"].find_one()
    assert db.command("getLastRequestStatistics")["RequestCharge"] == 0.0

    proxy.configure(answer_request_statistics=False)
    with pytest.raises(OperationFailure) as info:
        db.command("getLastRequestStatistics")
    assert info.value.code == 59  # FerretDB: no such command


def test_counters_add_up(ferretdb, mongo, db_name, cosmos_proxy, connect):
    mongo[db_name]["c"].insert_many([{"_id": i, "pad": "c" * 100} for i in range(5)])
    sizes = doc_sizes(mongo[db_name]["c"])
    proxy = cosmos_proxy(ferretdb)
    db = connect(proxy)[db_name]
    for _ in range(3):
        db.command("ping")
    new_docs = [{"_id": 10}, {"_id": 11}]
    db["c"].insert_many(new_docs)
    db["c"].find_one({"_id": 0})
    list(db["c"].find({"_id": {"$lt": 5}}))
    proxy.configure(ru_per_second=0)
    with pytest.raises(OperationFailure):
        db["c"].find_one()

    c = proxy.counters()
    expected_ru = (proxy.base_ru + sum(write_cost(proxy, new_docs))
                   + read_charge(proxy, sizes[:1]) + read_charge(proxy, sizes))
    assert c["ru_charged"] == pytest.approx(expected_ru)
    assert c["charged_requests"] == 4 and c["throttled"] == 1
    assert c["by_command"]["ping"]["requests"] == 3
    assert c["requests"] == c["free_requests"] + c["charged_requests"]
    assert sum(v["requests"] for v in c["by_command"].values()) == c["requests"]
    assert sum(v["ru"] for v in c["by_command"].values()) == pytest.approx(c["ru_charged"])
    assert sum(v["throttled"] for v in c["by_command"].values()) == c["throttled"]
    assert sum(s["ru"] for s in proxy.ru_timeline()) == pytest.approx(c["ru_charged"])
    assert c["elapsed_s"] > 0

    proxy.reset_counters()
    c = proxy.counters()
    assert c["requests"] == 0 and c["ru_charged"] == 0.0 and c["by_command"] == {}


def test_the_budget_lost_while_the_bucket_is_full_is_kept_by_requests_at_the_server(
        ferretdb, mongo, db_name, cosmos_proxy, connect):
    # What the benchmark's "spendable" utilisation stands on: refill that comes while the
    # bucket is full is lost, and the timeline says how many charged requests FerretDB held.
    mongo[db_name]["c"].insert_many([{"_id": i, "k": (i * 7919) % 3001, "pad": "x" * 1000}
                                     for i in range(3000)])
    rate = 20000  # the find's charge (about 1,500 RU) is refilled within a tenth of a second
    proxy = cosmos_proxy(ferretdb, ru_per_second=rate)
    coll = connect(proxy, appname="probe")[db_name]["c"]
    proxy.reset_counters()
    t0 = time.monotonic()
    time.sleep(0.5)  # idle: the bucket is full, everything refilled is lost, no request at FerretDB
    before = time.monotonic()
    got = list(coll.find({}, batch_size=3000).sort("k", 1))  # FerretDB sorts in memory
    in_flight = time.monotonic() - before
    time.sleep(0.3)
    timeline = proxy.ru_timeline()
    elapsed = time.monotonic() - t0
    assert len(got) == 3000
    lost: dict[str, float] = {}
    for second in timeline:
        for k, ru in second["lost"].items():
            lost[k] = lost.get(k, 0.0) + ru
    assert set(lost) <= {"0", "1"}, lost
    # the same by the clients' application names (from the handshake)
    by_app: dict[str, float] = {}
    for second in timeline:
        for k, ru in second["lost_by_app"].items():
            by_app[k] = by_app.get(k, 0.0) + ru
    assert set(by_app) <= {"", "probe=1"}, by_app
    assert by_app.get("probe=1", 0) == pytest.approx(lost["1"])
    assert lost["1"] > 0 and lost["1"] <= rate * in_flight + 1, (lost, in_flight)
    assert lost["0"] >= rate * 0.5 * 0.9, lost
    # nothing else drains the bucket than the find's charge, which it refills before it is
    # full again: all that came in while it was full is lost
    charged = proxy.counters()["ru_charged"]
    assert 1000 < charged < 0.3 * rate
    assert sum(lost.values()) == pytest.approx(rate * elapsed - charged, abs=0.02 * rate)


def test_lost_refill_ends_on_a_second_boundary_that_rounds_down():
    # A benchmark run hung here: the refill lost from a start on a whole second of the
    # timeline, where (base + n) - base rounds to just under n, went back to second n - 1,
    # whose end is that start again, and the loop never moved on.
    proxy = CosmosProxy(ru_per_second=150)
    base = proxy._started_mono = 0.1  # (0.1 + 4) - 0.1 == 3.9999999999999996
    n = 4
    assert int((base + n) - base) == n - 1
    done = threading.Event()

    def lose():
        with proxy._lock:
            proxy._lost(base + n, base + n + 1.5, 150)
        done.set()

    threading.Thread(target=lose, daemon=True).start()
    assert done.wait(5), "the lost refill never ended"
    lost = {t: sum(v["lost"].values()) for t, v in proxy._counters["timeline"].items()}
    assert lost == pytest.approx({n: 150.0, n + 1: 75.0})


# ---------------------------------------------------------------- topology, TLS

def test_replica_set_uri_works_through_the_proxy(ferretdb, mongo, db_name, cosmos_proxy,
                                                 connect):
    proxy = cosmos_proxy(ferretdb, replica_set="globaldb")
    client = connect(proxy, "replicaSet=globaldb")
    client[db_name]["c"].insert_one({"_id": "rs"})
    assert client[db_name]["c"].find_one() == {"_id": "rs"}
    assert client.topology_description.topology_type_name == "ReplicaSetWithPrimary"
    assert client.primary == ("127.0.0.1", proxy.port)
    assert proxy.counters()["by_command"]["insert"]["requests"] == 1

    plain = cosmos_proxy(ferretdb)  # without the rewrite FerretDB is no replica set
    with pytest.raises(ServerSelectionTimeoutError):
        connect(plain, "replicaSet=globaldb", serverSelectionTimeoutMS=500)[db_name]["c"] \
            .find_one()


def test_tls_listener_and_tls_upstream(tmp_path, cosmos_proxy, connect):
    certs = make_certs(tmp_path / "certs")
    with FerretDB(repl_set_name="globaldb", tls_cert_file=certs["cert"],
                  tls_key_file=certs["key"]) as server:
        proxy = cosmos_proxy(server, replica_set="globaldb", tls_cert_file=certs["cert"],
                             tls_key_file=certs["key"], upstream_tls_ca_file=certs["ca"])
        client = connect(proxy, f"tls=true&tlsCAFile={certs['ca']}&replicaSet=globaldb")
        client.tlsdb.c.insert_one({"_id": "tls"})
        assert client.tlsdb.c.find_one() == {"_id": "tls"}
        assert client.primary == ("127.0.0.1", proxy.port)  # not FerretDB's own address
        with server.client() as direct:
            assert direct.tlsdb.c.find_one() == {"_id": "tls"}

        untrusted = connect(proxy, "tls=true&replicaSet=globaldb", serverSelectionTimeoutMS=1000)
        with pytest.raises(ServerSelectionTimeoutError, match="CERTIFICATE_VERIFY_FAILED|"
                           "certificate verify failed"):
            untrusted.tlsdb.c.find_one()
        assert client.tlsdb.c.count_documents({}) == 1  # the proxy is still serving


# ---------------------------------------------------------------- command line

def test_command_line_prints_the_port_and_writes_stats_on_sigterm(ferretdb, tmp_path):
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen(
        [sys.executable, str(SUPPORT / "cosmosproxy.py"), "--upstream",
         f"127.0.0.1:{ferretdb.port}", "--ru", "1000", "--stats-file", str(stats),
         "--replica-set", "globaldb"],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
        assert match, line
        with pymongo.MongoClient(f"mongodb://127.0.0.1:{match.group(1)}/?replicaSet=globaldb",
                                 serverSelectionTimeoutMS=5000) as client:
            client.cli.c.find_one()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
    counters = json.loads(stats.read_text())
    assert counters["by_command"]["find"]["requests"] == 1
    assert counters["charged_requests"] >= 1

"""Backups and bulk writes through the Cosmos imitation (tests/support/cosmosproxy.py) in front
of a real FerretDB: 16500 in its shapes, server-side retry ending in code 50, lost cursors, empty
pages, dropped connections, partial bulk writes, an exhausted retry budget, request charges, and
a Cosmos-style TLS connection string. Every result is checked against the source with pymongo."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import bson
import pymongo
import pytest

import backupcheck as bc
import clirun
import datagen
from clirun import binary as cosmocopy_path
from ferretdb import FerretDB
from tlscerts import make_certs

DAY = 86400
HOUR = 3600
START = (int(time.time()) // DAY - 4) * DAY


@pytest.fixture
def orders(mongo, db_name):
    """1,200 documents of 512 bytes over 12 hours, four days ago."""
    coll = mongo[db_name].orders
    datagen.insert_spread(coll, START, START + 12 * HOUR, 1200, doc_size=512, seed=81,
                          keep_ids=False)
    return coll


def range_args(*extra):
    return ["--collection", "orders", "--step", "4h", "--from", bc.rfc3339(START),
            "--to", bc.rfc3339(START + 12 * HOUR), "--batch-size", "100", *extra]


def backup(proxy, coll, dest, *extra, query="", timeout=180):
    return clirun.backup(proxy.uri(query), coll.database.name, dest, *range_args(*extra),
                         timeout=timeout)


def assert_exact(dest, coll):
    bc.assert_backup_matches(dest, coll.database, ["orders"])


# ---------------------------------------------------------------- throttling


def test_backup_through_a_budget_so_small_most_requests_would_be_throttled(
        ferretdb, orders, cosmos_proxy, tmp_path):
    # ~250 RU of reads against 40 RU/s: a client firing 4 windows at once is throttled at once.
    proxy = cosmos_proxy(ferretdb, ru_per_second=40)
    res = backup(proxy, orders, tmp_path / "bk", "--parallel", "4")
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", orders)
    s, c = res.summary, proxy.counters()
    assert c["throttled"] >= 1 and s["throttle_events"] >= 1
    assert s["retries"] >= 1
    assert s["request_units"]["source"] == "server"
    # the engine settles exactly what getLastRequestStatistics reported for its reads
    reads = c["by_command"]["find"]["ru"] + c["by_command"].get("getMore", {}).get("ru", 0)
    assert s["request_units"]["charged"] == pytest.approx(reads, rel=0.01)


@pytest.mark.parametrize("codename,retry_after", [
    ("TooManyRequests", True), ("RequestRateTooLarge", True), (None, True), (None, False)],
    ids=["TooManyRequests", "RequestRateTooLarge", "no-codeName", "old-format"])
def test_every_shape_of_16500_is_retried(ferretdb, orders, cosmos_proxy, tmp_path, codename,
                                         retry_after):
    proxy = cosmos_proxy(ferretdb, ru_per_second=30, throttle_codename=codename,
                         throttle_retry_after=retry_after)
    res = backup(proxy, orders, tmp_path / "bk", "--parallel", "2", "--retry-base-ms", "50")
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", orders)
    assert proxy.counters()["throttled"] >= 1
    assert res.summary["throttle_events"] == proxy.counters()["throttled"]


def test_server_side_retry_timeouts_code_50_are_retried(ferretdb, orders, cosmos_proxy, tmp_path):
    # Requests wait for budget in the proxy; past 150 ms they are answered code 50.
    proxy = cosmos_proxy(ferretdb, ru_per_second=40, server_side_retry=True, ssr_limit_ms=150)
    res = backup(proxy, orders, tmp_path / "bk", "--parallel", "4", "--retry-base-ms", "50",
                 "--retry-budget", "50")
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", orders)
    c = proxy.counters()
    assert c["ssr_timeouts"] >= 1 and c["throttled"] == 0
    assert res.summary["retries"] >= c["ssr_timeouts"]


def test_a_fixed_budget_paces_requests_instead_of_being_throttled(ferretdb, orders, cosmos_proxy,
                                                                  tmp_path):
    unpaced = cosmos_proxy(ferretdb, ru_per_second=60)
    first = backup(unpaced, orders, tmp_path / "a", "--parallel", "4")
    paced = cosmos_proxy(ferretdb, ru_per_second=60)
    second = backup(paced, orders, tmp_path / "b", "--parallel", "4", "--max-ru", "60")
    assert first.rc == 0 and second.rc == 0, first.explain() + second.explain()
    assert_exact(tmp_path / "b", orders)
    assert second.summary["request_units"]["budget"] == 60
    assert second.summary["pacing_wait_seconds"] > 0
    # knowing the budget, the job waits for it rather than running into 16500s
    assert paced.counters()["throttled"] <= unpaced.counters()["throttled"]


def test_under_a_budget_a_read_costs_about_half_a_second_of_it(ferretdb, orders, cosmos_proxy,
                                                                tmp_path):
    # 400 documents of 512 bytes a batch charge about 150 RU: at --max-ru 100 one read would
    # leave the account in debt for a second and a half, throttling whatever shares it.
    args = ["--collection", "orders", "--step", "4h", "--from", bc.rfc3339(START),
            "--to", bc.rfc3339(START + 12 * HOUR), "--batch-size", "400", "--parallel", "1"]
    free = cosmos_proxy(ferretdb)
    unpaced = clirun.backup(free.uri(), orders.database.name, tmp_path / "a", *args)
    paced_proxy = cosmos_proxy(ferretdb, ru_per_second=100)
    paced = clirun.backup(paced_proxy.uri(), orders.database.name, tmp_path / "b", *args,
                          "--max-ru", "100")
    assert unpaced.rc == 0 and paced.rc == 0, unpaced.explain() + paced.explain()
    assert_exact(tmp_path / "a", orders)
    assert_exact(tmp_path / "b", orders)

    def reads(proxy):
        by = proxy.counters()["by_command"]
        return [(by[c]["requests"], by[c]["ru"]) for c in ("find", "getMore") if c in by]

    # unpaced, the batches are the configured 400: a find and a getMore per window at most
    assert sum(n for n, _ in reads(free)) <= 6, reads(free)
    # paced, a read asks for half a second of the budget, 50 RU, about 130 documents (the
    # first, before any charge is known, for MongoDB's first batch of 101 documents)
    n, ru = (sum(x) for x in zip(*reads(paced_proxy)))
    assert n >= 9, reads(paced_proxy)
    assert ru / n <= 0.6 * 100, reads(paced_proxy)


def test_throttling_that_does_not_follow_the_jobs_rate_does_not_slow_it_down(
        ferretdb, orders, cosmos_proxy, tmp_path):
    # Another application shares the budget: 40% of the job's requests are answered 16500 at
    # random, however fast or slow the job goes. Slowing down cannot make that any better, so
    # the job must not pace itself into a crawl (it used to: every second a throttle cut the
    # pace to 90% of what got through, and 3,000 documents took over 3 minutes).
    args = ["--parallel", "4", "--batch-size", "5", "--retry-base-ms", "20",
            "--retry-budget", "30"]
    clean = cosmos_proxy(ferretdb)
    base = backup(clean, orders, tmp_path / "a", *args, timeout=300)
    assert base.rc == 0, base.explain()
    noisy = cosmos_proxy(ferretdb, throttle_rate=0.4, seed=3)
    res = backup(noisy, orders, tmp_path / "b", *args, timeout=300)
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "b", orders)
    s, c = res.summary, noisy.counters()
    figures = {k: (s[k], base.summary[k]) for k in (
        "elapsed_seconds", "copy_seconds", "pacing_wait_seconds", "retry_wait_seconds",
        "throttle_events")}
    assert c["throttled"] >= 30 and s["throttle_events"] == c["throttled"]
    # the workers wait for the pace no more than a fifth of their time, besides two seconds
    # each while the governor finds out that its cut changed nothing (they used to wait for it
    # three quarters of the time, 300 times as long as for their own back-off) ...
    assert s["pacing_wait_seconds"] <= 0.2 * 4 * s["copy_seconds"] + 4 * 2, figures
    # ... and the job takes at most a few times as long as without the throttling
    assert s["elapsed_seconds"] <= 3 * base.summary["elapsed_seconds"] + 15, figures


def test_throttling_with_a_long_retry_after_that_the_job_does_not_cause_does_not_slow_it(
        ferretdb, orders, mongo, db_name, cosmos_proxy):
    """A target whose every fifth request is refused with RetryAfterMs=1000, however slowly the
    job writes. The pause each cut asks for is no evidence that the server holds the job below
    its pace: counted as such, every cut stood, and the pace fell to its floor (a review's
    replicate of 600 documents took 239 s, its workers waiting for the pace 842 s in all
    against 47 s of RetryAfterMs; now 25 s, and 56 s of pace)."""
    noisy = cosmos_proxy(ferretdb, throttle_rate=0.2, seed=9, retry_after_ms=1000)
    res = clirun.run("replicate", "--source", ferretdb.uri, "--db", db_name,
                     "--target", noisy.uri("directConnection=true"), "--target-db",
                     db_name + "_r", *range_args("--step", "2h"), "--json", timeout=300)
    assert res.rc == 0, res.explain()
    bc.assert_same_docs(bc.source_docs(mongo[db_name + "_r"].orders), bc.source_docs(orders),
                        "replica")
    s = res.summary
    assert s["throttle_events"] >= 10, s
    # waiting for the pace costs no more than a few seconds per throttle, as the pauses do
    assert s["pacing_wait_seconds"] <= 4 * s["throttle_events"] + 10, {
        k: s[k] for k in ("pacing_wait_seconds", "retry_wait_seconds", "throttle_events",
                          "copy_seconds")}


# ---------------------------------------------------------------- cursor and connection faults


def test_cursor_not_found_mid_window_resumes_after_the_last_id(ferretdb, orders, cosmos_proxy,
                                                               tmp_path):
    proxy = cosmos_proxy(ferretdb, cursor_not_found_on={2, 5})
    res = backup(proxy, orders, tmp_path / "bk", "--parallel", "1")
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", orders)
    c = proxy.counters()
    assert c["cursor_not_found"] == 2 and res.summary["retries"] == 2
    # resumed, not restarted: each reopen is one more find, and no document was read twice
    assert c["by_command"]["find"]["requests"] == 3 + 2
    assert res.summary["documents_read"] == orders.count_documents({})


def test_empty_pages_with_a_live_cursor_do_not_end_the_window(ferretdb, orders, cosmos_proxy,
                                                              tmp_path):
    proxy = cosmos_proxy(ferretdb, empty_batch_on={1, 2, 3, 7})
    res = backup(proxy, orders, tmp_path / "bk", "--parallel", "1")
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", orders)
    assert proxy.counters()["empty_batches"] == 4
    assert res.summary["retries"] == 0


def test_connections_dropped_mid_batch(ferretdb, orders, cosmos_proxy, tmp_path):
    proxy = cosmos_proxy(ferretdb, drop_on={3, 8, 9})
    res = backup(proxy, orders, tmp_path / "bk", "--parallel", "2", "--retry-base-ms", "20")
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", orders)
    assert proxy.counters()["dropped"] == 3
    assert res.summary["retries"] >= 3


def test_retry_budget_exhausted_fails_the_window_then_the_next_run_finishes(
        ferretdb, orders, cosmos_proxy, tmp_path):
    dest = tmp_path / "bk"
    # Planning makes three charged requests (listCollections twice, listIndexes); from the
    # first find on, every reply is cut off mid-way.
    proxy = cosmos_proxy(ferretdb, drop_on=set(range(4, 1000)))
    res = backup(proxy, orders, dest, "--parallel", "1", "--retry-budget", "2",
                 "--retry-base-ms", "10")
    assert res.rc == 1, res.explain()
    assert "failed after 2 retries" in res.stderr
    first = bc.rfc3339(START)
    assert f"{orders.database.name}.orders [{first}, " in res.stderr
    assert "127.0.0.1:%d" % proxy.port in res.stderr
    assert bc.read_backup(dest).windows_of(orders.database.name, "orders") == []
    assert bc.leftover_temps(dest) == []

    proxy.configure(drop_on=set())
    again = backup(proxy, orders, dest, "--parallel", "1")
    assert again.rc == 0, again.explain()
    assert again.summary["windows_already_complete"] == 0
    assert_exact(dest, orders)


def test_summary_line_reports_throttling_and_request_units(ferretdb, orders, cosmos_proxy,
                                                           tmp_path):
    proxy = cosmos_proxy(ferretdb, ru_per_second=40)
    res = clirun.run("backup", "--source", proxy.uri(), "--db", orders.database.name, "--to",
                     f"dir:{tmp_path / 'bk'}", *range_args("--parallel", "4"))
    assert res.rc == 0, res.explain()
    line = [l for l in res.stdout.splitlines() if "RU charged" in l]
    assert line, res.stdout
    assert "throttled" in line[0] and "paced" in line[0]


def test_without_request_statistics_the_charge_is_estimated(ferretdb, orders, cosmos_proxy,
                                                            tmp_path):
    proxy = cosmos_proxy(ferretdb, answer_request_statistics=False)
    res = backup(proxy, orders, tmp_path / "bk", "--parallel", "2")
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", orders)
    ru = res.summary["request_units"]
    assert ru["source"] == "estimate"
    # the documented model: 1 per request + 0.25 per document + 0.25 per KiB
    docs = list(orders.find())
    kib = sum(len(bson.encode(d)) for d in docs) / 1024
    assert ru["charged"] >= 0.25 * len(docs) + 0.25 * kib


# ---------------------------------------------------------------- bulk writes


def bulk_write_tool() -> Path:
    tool = cosmocopy_path().parent / "ccopy_bulk_write"
    if not tool.is_file():
        pytest.fail(f"{tool} not built (./run build)")
    return tool


def write_docs(path: Path, docs) -> None:
    with open(path, "wb") as f:
        for d in docs:
            f.write(bson.encode(d))


def run_bulk(uri, db, coll, path, *extra) -> tuple[int, dict, str]:
    p = subprocess.run([str(bulk_write_tool()), uri, db, coll, str(path), *map(str, extra)],
                       capture_output=True, text=True, timeout=120)
    record = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    return p.returncode, record, p.stderr


def docs_for_writing(n=500, seed=91):
    return list(datagen.iter_spread(START, START + DAY, n, doc_size=400, seed=seed))


def exact_target(coll, docs):
    got = bc.source_docs(coll)
    expected = {bc.id_key(d["_id"]): bson.encode(d) for d in docs}
    bc.assert_same_docs(got, expected, coll.full_name)


@pytest.mark.parametrize("mode", [[], ["--insert"], ["--insert", "--ordered"]],
                         ids=["upsert", "insert-unordered", "insert-ordered"])
def test_partial_bulk_writes_are_completed_without_duplicates(ferretdb, mongo, db_name,
                                                              cosmos_proxy, tmp_path, mode):
    docs = docs_for_writing()
    write_docs(tmp_path / "in.bson", docs)
    proxy = cosmos_proxy(ferretdb, partial_write_at=30, partial_write_count=3)
    rc, rec, err = run_bulk(proxy.uri(), db_name, "target", tmp_path / "in.bson", "--batch",
                            "100", *mode)
    assert rc == 0, err
    exact_target(mongo[db_name].target, docs)
    assert rec["written"] == len(docs) and rec["already"] == 0 and rec["rejected"] == 0
    assert proxy.counters()["partial_writes"] == 3
    # only what each cut left unwritten went again, in requests of what got through (30), which
    # grow by a quarter after a clean one: the first batch of 100 is cut at 30; 30 of its 70 go
    # through; 38 are cut at 30 again; the last 10 go through. The second batch likewise: cut at
    # 30, then 30, 38 and 2 go through (the proxy cuts only writes of more than 30)
    assert rec["resent"] == (30 + 38 + 10) + (30 + 38 + 2)
    assert rec["throttle_events"] == 3


def test_throttled_bulk_writes_at_a_small_budget(ferretdb, mongo, db_name, cosmos_proxy,
                                                 tmp_path):
    docs = docs_for_writing(400, seed=92)
    write_docs(tmp_path / "in.bson", docs)
    proxy = cosmos_proxy(ferretdb, ru_per_second=800)  # ~6 RU a document: ~3 s of budget
    rc, rec, err = run_bulk(proxy.uri(), db_name, "target", tmp_path / "in.bson", "--batch",
                            "200", "--insert")
    assert rc == 0, err
    exact_target(mongo[db_name].target, docs)
    assert proxy.counters()["throttled"] >= 1 and rec["resent"] >= 1
    assert rec["ru_source"] == "server"


def test_a_write_applied_despite_its_timeout_counts_as_already_written(
        ferretdb, mongo, db_name, cosmos_proxy, tmp_path):
    docs = docs_for_writing(200, seed=93)
    write_docs(tmp_path / "in.bson", docs)
    # Server-side retry gives up after 40 ms but applies the write anyway. A batch of 100
    # costs ~540 RU; at 4,000 RU/s with no burst a batch waits ~135 ms less what refilled while
    # the client prepared it (a slow client, under AddressSanitizer, took long enough for the
    # wait to drop under the former 100 ms limit), so it times out though written; its re-send
    # meets 11000 for every document, which must count as written.
    proxy = cosmos_proxy(ferretdb, ru_per_second=4000, burst_seconds=0.01, server_side_retry=True,
                         ssr_limit_ms=40, ssr_apply_write_on_timeout=True)
    rc, rec, err = run_bulk(proxy.uri(), db_name, "target", tmp_path / "in.bson", "--batch",
                            "100", "--insert", "--retry-base-ms", "100", "--retry-budget", "30")
    assert rc == 0, err
    exact_target(mongo[db_name].target, docs)
    assert proxy.counters()["ssr_timeouts"] >= 1
    assert rec["already"] >= 1 and rec["written"] + rec["already"] == len(docs)


def test_a_first_insert_meeting_an_existing_id_is_reported_not_hidden(ferretdb, mongo, db_name,
                                                                     cosmos_proxy, tmp_path):
    docs = docs_for_writing(50, seed=94)
    mongo[db_name].target.insert_one(docs[7])
    write_docs(tmp_path / "in.bson", docs)
    proxy = cosmos_proxy(ferretdb)
    rc, rec, err = run_bulk(proxy.uri(), db_name, "target", tmp_path / "in.bson", "--insert")
    assert rc == 3, err
    assert rec["rejected"] == 1 and rec["written"] == 49
    assert str(docs[7]["_id"]) in err and "11000" in err


# ---------------------------------------------------------------- TLS and Cosmos connection strings


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    with FerretDB(repl_set_name="globaldb", tls_cert_file=certs["cert"],
                  tls_key_file=certs["key"]) as server:
        client = pymongo.MongoClient(server.uri, directConnection=True)
        coll = client.tlsdb.orders
        coll.drop()
        datagen.insert_spread(coll, START, START + 12 * HOUR, 300, doc_size=256, seed=95,
                              keep_ids=False)
        yield server, certs, coll
        client.close()


COSMOS_QUERY = "ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"


def test_cosmos_connection_string_through_tls(tls_server, cosmos_proxy, tmp_path):
    server, certs, coll = tls_server
    proxy = cosmos_proxy(server, replica_set="globaldb", tls_cert_file=certs["cert"],
                         tls_key_file=certs["key"], upstream_tls_ca_file=certs["ca"],
                         ru_per_second=200)
    res = backup(proxy, coll, tmp_path / "bk", "--tls-ca-file", certs["ca"], query=COSMOS_QUERY)
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", coll)


def test_tls_certificate_is_checked_unless_the_uri_says_otherwise(tls_server, cosmos_proxy,
                                                                  tmp_path):
    server, certs, coll = tls_server
    proxy = cosmos_proxy(server, replica_set="globaldb", tls_cert_file=certs["cert"],
                         tls_key_file=certs["key"], upstream_tls_ca_file=certs["ca"])
    refused = backup(proxy, coll, tmp_path / "a", "--server-timeout-ms", "2000",
                     query=COSMOS_QUERY)
    assert refused.rc == 1, refused.explain()
    assert f"127.0.0.1:{proxy.port}" in refused.stderr
    assert not (tmp_path / "a" / coll.database.name / "orders").exists() or \
        bc.read_backup(tmp_path / "a").windows_of(coll.database.name, "orders") == []

    allowed = backup(proxy, coll, tmp_path / "b",
                     query=COSMOS_QUERY + "&tlsAllowInvalidCertificates=true")
    assert allowed.rc == 0, allowed.explain()
    assert_exact(tmp_path / "b", coll)


def test_tls_directly_to_ferretdb_tls_listener(tls_server, tmp_path):
    server, certs, coll = tls_server
    uri = f"mongodb://127.0.0.1:{server.tls_port}/?directConnection=true"
    res = clirun.backup(uri, coll.database.name, tmp_path / "bk", *range_args(
        "--tls-ca-file", certs["ca"]))
    assert res.rc == 0, res.explain()
    assert_exact(tmp_path / "bk", coll)


def test_unreadable_tls_ca_file_is_a_usage_error(tls_server, tmp_path):
    server, certs, coll = tls_server
    missing = tmp_path / "nope.pem"
    uri = f"mongodb://127.0.0.1:{server.tls_port}/?directConnection=true"
    res = clirun.backup(uri, coll.database.name, tmp_path / "bk", *range_args(
        "--tls-ca-file", missing))
    assert res.rc == 2, res.explain()
    assert str(missing) in res.stderr and "cannot be read" in res.stderr

"""Backups into Azure Blob Storage (Azurite 3.35.0), read back with the official
azure-storage-blob package (tests/support/blobcheck.py) and compared with the source read by
pymongo: connection strings and SAS URLs, compression, many blocks, faults injected by an HTTP
proxy, a kill mid-window, and bad input as a new user would type it."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import bson
import pytest
from azure.storage.blob import BlobLeaseClient

import backupcheck as bc
import blobcheck
import clirun
import datagen
from httpfault import FaultRule

DAY = 86400
HOUR = 3600
START = (int(time.time()) // DAY - 5) * DAY


@pytest.fixture
def orders(mongo, db_name):
    """1,500 documents of 1 KB over 12 hours, five days ago."""
    coll = mongo[db_name].orders
    datagen.insert_spread(coll, START, START + 12 * HOUR, 1500, doc_size=1024, seed=101,
                          keep_ids=False)
    return coll


def range_args(*extra, hours=12):
    # three 4-hour windows, three workers: one blob per window (no sub-windows)
    return ["--collection", "orders", "--step", "4h", "--from", bc.rfc3339(START),
            "--to", bc.rfc3339(START + hours * HOUR), "--parallel", "3", *extra]


def blob_backup(ferretdb, coll, to, *extra, env=None, json_summary=True, timeout=180):
    args = ["backup", "--source", ferretdb.uri, "--db", coll.database.name, "--to", to,
            *range_args(*extra)]
    if json_summary:
        args.append("--json")
    return clirun.run(*args, env=env, timeout=timeout)


def exact(container, prefix, coll):
    return blobcheck.assert_blob_backup_matches(container, prefix, coll.database, ["orders"])


def manifests(container, prefix):
    return [b.name for b in container.list_blobs(name_starts_with=f"{prefix}/")
            if b.name.endswith(".manifest.json")]


# ---------------------------------------------------------------- what users configure


def test_backup_with_the_connection_string_from_the_environment(ferretdb, orders, azurite,
                                                                blob_container):
    to = f"azblob://{blob_container.container_name}/nightly"
    res = blob_backup(ferretdb, orders, to,
                      env={"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string})
    assert res.rc == 0, res.explain()
    backup = exact(blob_container, "nightly", orders)
    assert res.summary["windows_written"] == 3
    names = sorted(b.name for b in blob_container.list_blobs())
    # the writer's lock, released when the job ended
    assert "nightly/.cosmocopy.lock" in names
    lock = blob_container.get_blob_client("nightly/.cosmocopy.lock").get_blob_properties()
    assert lock.lease.state == "available"
    # readable, sortable names: prefix, database, collection, window start and end
    names.remove("nightly/.cosmocopy.lock")
    assert all(n.startswith(f"nightly/{orders.database.name}/orders/") for n in names)
    assert any(n.endswith(f"{bc.compact(START)}_{bc.compact(START + 4 * HOUR)}.bson") for n in names)
    assert len(backup.windows_of(orders.database.name, "orders")) == 3


def test_full_then_incremental_into_a_container(ferretdb, mongo, db_name, azurite, blob_container):
    coll = mongo[db_name].orders
    now = int(time.time())
    datagen.insert_spread(coll, now - 3 * DAY, now - DAY, 800, doc_size=700, seed=102,
                          keep_ids=False)
    to = f"azblob://{blob_container.container_name}"
    cs = ["--blob-connection-string", azurite.connection_string]
    # the full run stops an hour before now; the new documents come after that
    first = clirun.run("backup", "--source", ferretdb.uri, "--db", db_name, "--to", to, *cs,
                       "--step", "1d", "--settle-lag", "1h", "--json")
    assert first.rc == 0, first.explain()
    datagen.insert_spread(coll, now - 3000, now - 60, 200, doc_size=700, seed=103,
                          keep_ids=False)
    second = clirun.run("backup", "--source", ferretdb.uri, "--db", db_name, "--to", to, *cs,
                        "--incremental", "--step", "1d", "--settle-lag", "0s", "--json")
    assert second.rc == 0, second.explain()
    assert second.summary["windows_written"] >= 1
    assert second.summary["documents"] == 200
    blobcheck.assert_blob_backup_matches(blob_container, "", mongo[db_name], ["orders"])

    again = clirun.run("list", "--from", to, "--blob-connection-string", azurite.connection_string,
                       "--json")
    assert again.rc == 0, again.explain()
    assert azurite.account_key not in again.stdout + again.stderr


@pytest.mark.parametrize("compress", ["zstd", "gzip", "none"])
def test_compressed_windows_in_many_small_blocks(ferretdb, orders, azurite, blob_container,
                                                 compress):
    to = f"azblob://{blob_container.container_name}/c"
    res = blob_backup(ferretdb, orders, to, "--compress", compress, "--block-size", "4096",
                      "--blocks-in-flight", "3", "--blob-connection-string",
                      azurite.connection_string)
    assert res.rc == 0, res.explain()
    exact(blob_container, "c", orders)
    # the largest window really went up in many blocks
    data = [b for b in blob_container.list_blobs(name_starts_with="c/") if not
            b.name.endswith(".json")]
    largest = max(data, key=lambda b: b.size)
    blocks = blob_container.get_blob_client(largest.name).get_block_list("committed")[0]
    assert len(blocks) == -(-largest.size // 4096)
    assert len(blocks) > 20


def test_sas_url_destination(ferretdb, orders, azurite, blob_container):
    url = azurite.sas_url(blob_container.container_name, "viasas")
    res = blob_backup(ferretdb, orders, url)
    assert res.rc == 0, res.explain()
    exact(blob_container, "viasas", orders)
    sig = url.split("sig=")[1].split("&")[0]
    assert sig not in res.stdout + res.stderr


def test_missing_container_is_created_only_when_asked(ferretdb, orders, azurite):
    name = f"new-{int(time.time() * 1000) % 10**9}"
    to = f"azblob://{name}/p"
    cs = ["--blob-connection-string", azurite.connection_string]
    refused = blob_backup(ferretdb, orders, to, *cs)
    assert refused.rc == 1, refused.explain()
    assert f"container {name} does not exist in account devstoreaccount1" in refused.stderr
    assert "--create-container" in refused.stderr
    created = blob_backup(ferretdb, orders, to, *cs, "--create-container")
    assert created.rc == 0, created.explain()
    container = azurite.service_client().get_container_client(name)
    try:
        exact(container, "p", orders)
    finally:
        container.delete_container()


# ---------------------------------------------------------------- faults


def test_blob_faults_are_retried_and_the_content_is_exact(ferretdb, orders, azurite,
                                                          blob_container, blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("server_busy", method="PUT", query="comp=block", on={2, 5}, retry_after=1),
        FaultRule("operation_timed_out", method="PUT", query="comp=block", on={7}),
        FaultRule("drop_reply", method="PUT", query="comp=blocklist", on={1}),
        FaultRule("operation_timed_out", method="PUT", path=".manifest.json", on={2}),
        FaultRule("drop_request", method="GET", query="comp=list", on={1}),
        FaultRule("slow", method="PUT", query="comp=block", on={9, 10}, delay_ms=400),
    ])
    to = f"azblob://{blob_container.container_name}/faulty"
    res = blob_backup(ferretdb, orders, to, "--block-size", "65536", "--retry-base-ms", "50",
                      "--blob-connection-string", proxy.connection_string)
    assert res.rc == 0, res.explain()
    exact(blob_container, "faulty", orders)
    c = proxy.counters()
    assert c["server_busy"] == 2 and c["operation_timed_out"] == 2
    assert c["drop_reply"] == 1 and c["drop_request"] == 1 and c["slow"] == 2
    # every fault but the dropped List Blobs request cost one retry of ours; that one libcurl
    # itself sends again (a kept-alive connection that closes before any byte of the answer)
    assert res.summary["retries"] >= 5
    # each retry is told on stderr as it happens, with what was retried and why
    told = [line for line in res.stderr.splitlines() if "retrying in" in line]
    assert sum(" of faulty/" in line and ": HTTP 503 ServerBusy" in line and
               "writing block" in line for line in told) == 2, res.explain()
    assert any(".manifest.json" in line and "HTTP 500 OperationTimedOut" in line
               for line in told), res.explain()
    assert all("(retry 1 of 10)" in line for line in told), told


def test_list_retries_and_times_out_as_told(ferretdb, orders, azurite, blob_container,
                                            blob_fault_proxy):
    to = f"azblob://{blob_container.container_name}/listed"
    assert blob_backup(ferretdb, orders, to,
                       "--blob-connection-string", azurite.connection_string).rc == 0
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("server_busy", method="GET", query="comp=list", on={1, 2}, retry_after=None)])

    def listing(*extra):
        return clirun.run("list", "--from", to, "--blob-connection-string",
                          proxy.connection_string, "--json", *extra, timeout=60)

    # two 503s, retried with the back-off asked for: every window listed
    res = listing("--retry-base-ms", "20")
    assert res.rc == 0, res.explain()
    assert len(json.loads(res.stdout)["windows"]) == 3
    assert proxy.counters()["server_busy"] == 2
    # no retries allowed: the first 503 fails the listing (a job failure, not bad usage)
    proxy.configure(rules=[FaultRule("server_busy", method="GET", query="comp=list", on={1},
                                     retry_after=None)])
    res = listing("--retry-budget", "0")
    assert res.rc == 1, res.explain()
    assert "503" in res.stderr, res.explain()
    failed = json.loads(res.stdout)  # --json: the failure summary, no listing
    assert failed["status"] == "failed" and "503" in failed["error"]["message"], res.explain()
    # a listing that hangs gives up after --blob-timeout-ms and each retry, not 5 minutes
    proxy.configure(rules=[FaultRule("stall", method="GET", query="comp=list", rate=1.0,
                                     delay_ms=60000)])
    t0 = time.monotonic()
    res = listing("--blob-timeout-ms", "1000", "--retry-budget", "1", "--retry-base-ms", "10")
    took = time.monotonic() - t0
    assert res.rc == 1, res.explain()
    assert took < 20, took
    # the options are checked like every other flag
    res = listing("--retry-budget", "-1")
    assert res.rc == 2 and "--retry-budget" in res.stderr, res.explain()


def test_killed_mid_window_then_rerun(ferretdb, orders, azurite, blob_container, blob_fault_proxy):
    # slow blocks make the backup last; kill it once a window is complete and another is being
    # written, then run again: exact content, no window twice
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("slow", method="PUT", query="comp=block", rate=1.0, delay_ms=150)])
    to = f"azblob://{blob_container.container_name}/k"
    cs = ["--blob-connection-string", proxy.connection_string]
    job = clirun.Background("backup", "--source", ferretdb.uri, "--db", orders.database.name,
                            "--to", to, *range_args("--block-size", "8192", "--parallel", "1",
                                                    "--batch-size", "100"), *cs, "--json")
    try:
        def manifests():
            return [b.name for b in blob_container.list_blobs(name_starts_with="k/")
                    if b.name.endswith(".manifest.json")]
        clirun.wait_for(lambda: len(manifests()) >= 1, 90, what="a completed window")
        clirun.wait_for(lambda: proxy.counters()["by_request"].get("PUT comp=block", {}).get(
            "requests", 0) > 0, 30, what="blocks being written")
        job.proc.send_signal(signal.SIGKILL)
        res = job.wait(timeout=10)
    finally:
        job.kill()
    assert res.rc == -signal.SIGKILL
    done = len(blobcheck.read_blob_backup(blob_container, "k").windows_of(
        orders.database.name, "orders"))
    assert 1 <= done < 3
    proxy.configure(rules=[])
    again = blob_backup(ferretdb, orders, to, *cs)
    assert again.rc == 0, again.explain()
    assert again.summary["windows_already_complete"] == done
    exact(blob_container, "k", orders)  # every document once, windows that do not overlap


def test_data_a_failed_window_left_without_manifest_is_removed_by_the_next_run(
        ferretdb, orders, azurite, blob_container):
    """A window blob committed without its manifest is redone in sub-windows of other names by
    the next run, and the leftover blob goes: every document is in the container once."""
    to = f"azblob://{blob_container.container_name}/o"
    cs = ["--blob-connection-string", azurite.connection_string]
    first = blob_backup(ferretdb, orders, to, *cs)
    assert first.rc == 0, first.explain()
    lost = sorted(manifests(blob_container, "o"))[1]
    orphan = lost.replace(".manifest.json", ".bson")
    blob_container.delete_blob(lost)
    again = clirun.run("backup", "--source", ferretdb.uri, "--db", orders.database.name,
                       "--to", to, *cs, "--collection", "orders", "--step", "4h", "--from",
                       bc.rfc3339(START), "--to", bc.rfc3339(START + 12 * HOUR), "--json")
    assert again.rc == 0, again.explain()
    assert again.summary["windows_written"] > 1  # the hole, cut for the four workers
    names = [b.name for b in blob_container.list_blobs(name_starts_with="o/")]
    assert orphan not in names, names
    data = [n for n in names if n.endswith(".bson")]
    docs = [d for n in data for d in bson.decode_all(
        blob_container.get_blob_client(n).download_blob().readall())]
    assert len(docs) == len({d["_id"] for d in docs}) == orders.count_documents({})
    exact(blob_container, "o", orders)


# ---------------------------------------------------------------- bad input


def test_wrong_account_key_is_an_authentication_error(ferretdb, orders, azurite, blob_container):
    bad_key = "QUJD" * 22  # valid Base64, wrong key
    cs = azurite.connection_string.replace(azurite.account_key, bad_key)
    res = blob_backup(ferretdb, orders, f"azblob://{blob_container.container_name}",
                      "--blob-connection-string", cs)
    assert res.rc == 1, res.explain()
    assert "authentication failed for account devstoreaccount1" in res.stderr
    assert bad_key not in res.stdout + res.stderr
    assert "retries" not in res.stderr  # a 403 is not retried


def test_sas_without_write_permission(ferretdb, orders, azurite, blob_container):
    url = azurite.sas_url(blob_container.container_name, "ro", permissions="rl")
    res = blob_backup(ferretdb, orders, url)
    assert res.rc == 1, res.explain()
    assert "access refused for account devstoreaccount1" in res.stderr
    sig = url.split("sig=")[1].split("&")[0]
    assert sig not in res.stdout + res.stderr
    assert list(blob_container.list_blobs()) == []


def test_sas_without_read_permission_is_refused_before_any_window(ferretdb, orders, azurite,
                                                                  blob_container):
    """Every later run, list, restore and verify read the backup back: a SAS that cannot read
    used to write a first backup and fail every run after it."""
    url = azurite.sas_url(blob_container.container_name, "wo", permissions="acwdl")
    res = blob_backup(ferretdb, orders, url)
    assert res.rc == 1, res.explain()
    assert "the SAS needs read permission too" in res.stderr, res.explain()
    assert "devstoreaccount1" in res.stderr, res.explain()
    sig = url.split("sig=")[1].split("&")[0]
    assert sig not in res.stdout + res.stderr
    assert not [b.name for b in blob_container.list_blobs() if b.name.endswith(".bson")]


@pytest.mark.parametrize("cs,why", [
    # neither key nor SAS means Microsoft Entra ID tokens, which never go over plain http
    ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1",
     "neither AccountKey nor SharedAccessSignature"),
    ("AccountName=devstoreaccount1;AccountKey=not*base64", "not valid Base64"),
    ("this is not a connection string", "has no '='"),
    ("AccountKey=QUJD;BlobEndpoint=ftp://x/y", "not an http:// or https:// URL"),
])
def test_malformed_connection_string(ferretdb, orders, blob_container, cs, why):
    res = blob_backup(ferretdb, orders, f"azblob://{blob_container.container_name}",
                      "--blob-connection-string", cs)
    assert res.rc == 2, res.explain()
    assert why in res.stderr


def test_a_malformed_connection_string_names_where_it_came_from(blob_container):
    to = f"azblob://{blob_container.container_name}"
    res = clirun.run("list", "--from", to, "--blob-connection-string", "garbage")
    assert res.rc == 2, res.explain()
    assert "--blob-connection-string: malformed blob connection string" in res.stderr, \
        res.explain()
    res = clirun.run("list", "--from", to, env={"AZURE_STORAGE_CONNECTION_STRING": "garbage"})
    assert res.rc == 2, res.explain()
    assert "$AZURE_STORAGE_CONNECTION_STRING: malformed blob connection string" in res.stderr, \
        res.explain()


def test_azblob_without_credentials_says_where_they_come_from(ferretdb, orders, blob_container):
    res = blob_backup(ferretdb, orders, f"azblob://{blob_container.container_name}",
                      env={"AZURE_STORAGE_CONNECTION_STRING": ""})
    assert res.rc == 2, res.explain()
    assert "--blob-connection-string" in res.stderr
    assert "AZURE_STORAGE_CONNECTION_STRING" in res.stderr


@pytest.mark.parametrize("name,why", [
    ("ab", "must be 3 to 63 characters"),
    ("x" * 64, "must be 3 to 63 characters"),
    ("Bad_Name", "may hold only lowercase letters, digits and hyphens"),
    ("UPPER", "may hold only lowercase letters, digits and hyphens"),
    ("-abc", "must start and end with a letter or a digit, with no two hyphens in a row"),
    ("a--b", "must start and end with a letter or a digit, with no two hyphens in a row"),
])
def test_a_container_name_blob_storage_refuses_is_bad_input_naming_the_flag(
        ferretdb, orders, azurite, name, why):
    # Blob Storage answers 400 InvalidResourceName: refused before any work, naming the flag
    res = blob_backup(ferretdb, orders, f"azblob://{name}/p", "--blob-connection-string",
                      azurite.connection_string)
    assert res.rc == 2, res.explain()
    assert f'--to: container name "{name}" {why}' in res.stderr, res.explain()
    listed = clirun.run("list", "--from", f"azblob://{name}", "--blob-connection-string",
                        azurite.connection_string)
    assert listed.rc == 2 and f'--from: container name "{name}" {why}' in listed.stderr, \
        listed.explain()
    assert name.lower() not in [c.name for c in azurite.service_client().list_containers()]


def test_a_second_job_on_the_same_destination_is_refused(ferretdb, orders, azurite, blob_container,
                                                         blob_fault_proxy):
    # the first job is kept slow by its blocks; the second one waits out the lease, then gives up
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("slow", method="PUT", query="comp=block", rate=1.0, delay_ms=300)])
    to = f"azblob://{blob_container.container_name}/one"
    first = clirun.Background("backup", "--source", ferretdb.uri, "--db", orders.database.name,
                              "--to", to, *range_args("--block-size", "8192", "--parallel", "1",
                                                      "--blocks-in-flight", "1"),
                              "--blob-connection-string", proxy.connection_string, "--json")
    try:
        clirun.wait_for(lambda: proxy.counters()["by_request"].get("PUT comp=block", {}).get(
            "requests", 0) > 0, 60, what="the first job writing blocks")
        second = blob_backup(ferretdb, orders, to, "--blob-connection-string",
                             azurite.connection_string, timeout=120)
        still_running = first.running()
        proxy.configure(rules=[])
        done = first.wait(timeout=180)
    finally:
        first.kill()
    assert still_running, "the first job ended before the second one gave up: test too fast"
    assert second.rc == 1, second.explain()
    assert "another job is writing to azblob://" in second.stderr
    assert done.rc == 0, done.explain()
    exact(blob_container, "one", orders)


# ---------------------------------------------------------------- the writer's lease
#
# Blob Storage keeps a 15 s lease for 15 s after it took the last renewal. A writer that cannot
# renew in time, or whose renewal is refused, must stop: nothing it sends after that may reach
# the server, or it could commit windows under a lock another job now holds. The proxy's log
# says when each request reached it and when it was sent on to Azurite.

LEASE_S = 15
SLOW_BLOCKS = FaultRule("slow", method="PUT", query="comp=block", rate=1.0, delay_ms=100)


def _lease_request(e):
    return e["method"] == "PUT" and "comp=lease" in e["target"]


def _write(e):
    """Anything that changes the destination but the lock's lease: Put Block, Put Block List,
    Put Blob (manifests), Delete."""
    return e["method"] in ("PUT", "DELETE") and not _lease_request(e)


def _lease_confirmed(e):
    """A lease request the writer saw succeed (not one a fault held or answered)."""
    return _lease_request(e) and e["fault"] is None and e["status"] in (200, 201)


def _slow_job(to, cs, *extra):
    return ["backup", *extra, "--to", to, *range_args("--block-size", "8192", "--parallel", "1",
                                                      "--blocks-in-flight", "1", "--compress",
                                                      "none"), *cs, "--json"]


def _start(ferretdb, coll, to, cs):
    return clirun.Background(*_slow_job(to, cs, "--source", ferretdb.uri, "--db",
                                        coll.database.name))


@pytest.mark.parametrize("fault,why", [
    (FaultRule("server_busy", method="PUT", query="comp=lease", rate=1.0, retry_after=1),
     "answered 503 ServerBusy"),
    # each renewal is stuck on the way for 8 s: a try must give up long before that
    (FaultRule("stall", method="PUT", query="comp=lease", rate=1.0, delay_ms=8000),
     "Timeout was reached"),
], ids=["server_busy", "stalled"])
def test_renewals_failing_until_the_lease_runs_out_stop_the_job_before_it(
        ferretdb, orders, azurite, blob_container, blob_fault_proxy, fault, why):
    proxy = blob_fault_proxy(azurite, rules=[SLOW_BLOCKS])
    to = f"azblob://{blob_container.container_name}/lr"
    job = _start(ferretdb, orders, to, ["--blob-connection-string", proxy.connection_string])
    try:
        clirun.wait_for(lambda: len(manifests(blob_container, "lr")) >= 1, 90,
                        what="a completed window")
        # from now on no renewal gets through, and the blocks crawl: the job has a minute of
        # writing left, far more than its lease
        proxy.configure(rules=[fault, FaultRule("slow", method="PUT", query="comp=block",
                                                rate=1.0, delay_ms=400)])
        res = job.wait(timeout=120)
    finally:
        job.kill()
    assert res.rc == 1, res.explain()
    lock = f"azblob://{blob_container.container_name}/lr/.cosmocopy.lock"
    assert f"the lease on {lock} could not be renewed in time" in res.stderr, res.explain()
    assert why in res.stderr, res.explain()
    assert "run again to resume" in res.stderr
    log = proxy.requests_log()
    assert any(e["fault"] == fault.fault for e in log)
    held_until = max(e["at"] for e in log if _lease_confirmed(e)) + LEASE_S
    late = [(e["method"], e["target"]) for e in log
            if _write(e) and (e["forwarded_at"] or 0) >= held_until]
    assert late == []
    # each window complete is whole and was committed under the lease; the one being written
    # when the lease ran out is not complete
    done = len(blobcheck.read_blob_backup(blob_container, "lr").windows_of(
        orders.database.name, "orders"))
    assert 1 <= done < 3
    # the next run resumes as usual
    proxy.configure(rules=[])
    again = blob_backup(ferretdb, orders, to, "--blob-connection-string",
                        proxy.connection_string)
    assert again.rc == 0, again.explain()
    assert again.summary["windows_already_complete"] == done
    exact(blob_container, "lr", orders)


def test_a_renewal_that_fails_for_a_while_is_tried_again_within_the_lease(
        ferretdb, orders, azurite, blob_container, blob_fault_proxy):
    # the first renewal (5 s after the acquire) meets a 503, then a lost answer, then a request
    # stuck for 4 s (longer than a try may take); the next try, at about 9.5 s, is in time
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("server_busy", method="PUT", query="comp=lease", on={2}, retry_after=None),
        FaultRule("drop_reply", method="PUT", query="comp=lease", on={3}),
        FaultRule("stall", method="PUT", query="comp=lease", on={4}, delay_ms=4000),
        SLOW_BLOCKS])
    to = f"azblob://{blob_container.container_name}/flaky"
    res = clirun.run(*_slow_job(to, ["--blob-connection-string", proxy.connection_string],
                                "--source", ferretdb.uri, "--db", orders.database.name),
                     timeout=180)
    assert res.rc == 0, res.explain()
    exact(blob_container, "flaky", orders)
    c = proxy.counters()
    assert (c["server_busy"], c["drop_reply"], c["stall"]) == (1, 1, 1)
    lease = [e for e in proxy.requests_log() if _lease_request(e)]
    assert len(lease) >= 5, "the job ended before its first renewal was through: test too fast"
    assert lease[4]["status"] == 200 and lease[4]["at"] - lease[0]["at"] < 12


def test_a_lease_taken_by_another_fails_the_job_at_its_next_renewal(
        ferretdb, orders, azurite, blob_container, blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("slow", method="PUT", query="comp=block", rate=1.0, delay_ms=300)])
    to = f"azblob://{blob_container.container_name}/taken"
    job = _start(ferretdb, orders, to, ["--blob-connection-string", proxy.connection_string])
    lock_blob = blob_container.get_blob_client("taken/.cosmocopy.lock")
    other = BlobLeaseClient(lock_blob)
    try:
        clirun.wait_for(lambda: proxy.counters()["by_request"].get("PUT comp=block", {}).get(
            "requests", 0) > 0, 60, what="blocks being written")
        # what an operator does to a job believed gone: break its lease, then a new job takes it
        BlobLeaseClient(lock_blob).break_lease(lease_break_period=0)
        other.acquire(lease_duration=LEASE_S)
        taken_at = time.time()
        res = job.wait(timeout=60)
        other_lease = lock_blob.get_blob_properties().lease
    finally:
        job.kill()
    other.release()
    assert res.rc == 1, res.explain()
    lock = f"azblob://{blob_container.container_name}/taken/.cosmocopy.lock"
    assert f"the lease on {lock} was lost" in res.stderr, res.explain()
    assert "409 LeaseIdMismatchWithLeaseOperation" in res.stderr
    assert "another job may have taken the lock" in res.stderr
    assert other_lease.state == "leased"  # the job left the other holder's lease alone
    log = proxy.requests_log()
    refused = [e for e in log if _lease_request(e) and e["status"] == 409]
    assert refused, "no renewal was refused"
    refused_at = refused[0]["at"]
    assert refused_at - taken_at < 6  # the next renewal, at most 5 s away
    # nothing written after the refusal (0.2 s: the answer's way back to the job)
    late = [(e["method"], e["target"]) for e in log if _write(e) and e["at"] > refused_at + 0.2]
    assert late == []
    done = len(blobcheck.read_blob_backup(blob_container, "taken").windows_of(
        orders.database.name, "orders"))
    assert done < 3


def test_a_writer_stalled_past_its_lease_writes_nothing_once_another_has_the_lock(
        ferretdb, orders, azurite, blob_container, blob_fault_proxy):
    # the first job is frozen (SIGSTOP, as a paused VM or a swapped-out process) longer than its
    # lease; a second job takes the lock meanwhile; the first, thawed, must write nothing more
    first_proxy = blob_fault_proxy(azurite, rules=[SLOW_BLOCKS])
    second_proxy = blob_fault_proxy(azurite, rules=[SLOW_BLOCKS])
    to = f"azblob://{blob_container.container_name}/frozen"
    first = _start(ferretdb, orders, to, ["--blob-connection-string",
                                          first_proxy.connection_string])
    second = None
    try:
        clirun.wait_for(lambda: len(manifests(blob_container, "frozen")) >= 1, 90,
                        what="a completed window")
        first.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.time()
        second = _start(ferretdb, orders, to, ["--blob-connection-string",
                                               second_proxy.connection_string])
        clirun.wait_for(lambda: any(_lease_confirmed(e) for e in second_proxy.requests_log()),
                        40, what="the second job taking the lock")
        clirun.wait_for(lambda: second_proxy.counters()["by_request"].get(
            "PUT comp=block", {}).get("requests", 0) >= 5, 30, what="the second job writing")
        first.proc.send_signal(signal.SIGCONT)
        first_res = first.wait(timeout=60)
        second_res = second.wait(timeout=180)
    finally:
        first.kill()
        if second:
            second.kill()
    assert first_res.rc == 1, first_res.explain()
    lock = f"azblob://{blob_container.container_name}/frozen/.cosmocopy.lock"
    assert f"the lease on {lock} could not be renewed in time" in first_res.stderr, \
        first_res.explain()
    # once frozen (0.5 s for the signal to land), the first job sent no write at all
    late = [(e["method"], e["target"]) for e in first_proxy.requests_log()
            if _write(e) and e["at"] > stopped_at + 0.5]
    assert late == []
    assert second_res.rc == 0, second_res.explain()
    assert second_res.summary["windows_already_complete"] >= 1
    exact(blob_container, "frozen", orders)


def test_a_lost_answer_to_taking_the_lock_does_not_lock_the_job_out(
        ferretdb, orders, azurite, blob_container, blob_fault_proxy):
    # the acquire went through but its answer was lost: the retry must get that same lease,
    # not wait for it as if another job held it
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("drop_reply", method="PUT", query="comp=lease", on={1})])
    to = f"azblob://{blob_container.container_name}/relock"
    res = blob_backup(ferretdb, orders, to, "--blob-connection-string", proxy.connection_string)
    assert res.rc == 0, res.explain()
    assert res.elapsed < 10, res.explain()  # no waiting for that lease to run out (15 s)
    exact(blob_container, "relock", orders)
    assert proxy.counters()["drop_reply"] == 1
    lock = blob_container.get_blob_client("relock/.cosmocopy.lock").get_blob_properties()
    assert lock.lease.state == "available"  # released at the end


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* pthread_create refusing (EAGAIN) to start one function: the one at offset
   CCOPY_TEST_REFUSE_THREAD (hex) of the loaded object whose name contains
   CCOPY_TEST_REFUSE_IN (empty: the program itself) */
static uintptr_t base;
static int found;

static int find(struct dl_phdr_info *info, size_t size, void *data)
{
    const char *want = data;
    (void)size;
    if ((!*want && !found) || (*want && info->dlpi_name && strstr(info->dlpi_name, want))) {
        base = info->dlpi_addr;
        found = 1;
        return 1;
    }
    return 0;
}

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(
            RTLD_NEXT, "pthread_create");
    const char *off = getenv("CCOPY_TEST_REFUSE_THREAD"), *in = getenv("CCOPY_TEST_REFUSE_IN");
    if (off && in) {
        if (!found)
            dl_iterate_phdr(find, (void *)in);
        if (found && (uintptr_t)fn - base == (uintptr_t)strtoull(off, NULL, 16))
            return EAGAIN;
    }
    return real(t, a, fn, arg);
}
"""


def _renewer_address():
    """(object name fragment, hex offset) of the lease renewer's function, or None."""
    binary = str(clirun.binary())
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    if "libasan" in ldd or "libtsan" in ldd:
        return None  # a sanitizer wants its own pthread_create first
    candidates = [("", binary)]
    for line in ldd.splitlines():
        if "libcosmocopy" in line and "=>" in line:
            candidates.append(("libcosmocopy", line.split("=>")[1].split("(")[0].strip()))
    for fragment, path in candidates:
        nm = subprocess.run(["nm", path], capture_output=True, text=True).stdout
        for line in nm.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2] == "renew_lease" and parts[1] in "tT":
                return fragment, parts[0]
    return None


def test_a_lease_renewer_that_cannot_start_fails_the_job_before_any_write(
        ferretdb, orders, azurite, blob_container, blob_fault_proxy, tmp_path):
    where = _renewer_address()
    if where is None:
        pytest.skip("the binary has no symbol renew_lease, or runs under a sanitizer")
    src = tmp_path / "refuse_thread.c"
    src.write_text(SHIM)
    shim = tmp_path / "refuse_thread.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(shim), str(src), "-ldl"],
                   check=True)
    proxy = blob_fault_proxy(azurite)
    to = f"azblob://{blob_container.container_name}/nothread"
    res = blob_backup(ferretdb, orders, to, "--blob-connection-string", proxy.connection_string,
                      env={"LD_PRELOAD": str(shim), "CCOPY_TEST_REFUSE_IN": where[0],
                           "CCOPY_TEST_REFUSE_THREAD": where[1]})
    assert res.rc == 1, res.explain()
    lock = f"azblob://{blob_container.container_name}/nothread/.cosmocopy.lock"
    assert f"cannot start the thread that renews the lease on {lock}" in res.stderr, \
        res.explain()
    assert "Resource temporarily unavailable" in res.stderr
    # nothing but the lock was written, and its lease was given back at once
    assert [b.name for b in blob_container.list_blobs()] == ["nothread/.cosmocopy.lock"]
    assert [(e["method"], e["target"].split("?")[0].rsplit("/", 1)[1])
            for e in proxy.requests_log() if _write(e)] == [("PUT", ".cosmocopy.lock")]
    lease = blob_container.get_blob_client("nothread/.cosmocopy.lock").get_blob_properties().lease
    assert lease.state == "available"
    # with the thread, the same run goes through
    again = blob_backup(ferretdb, orders, to, "--blob-connection-string",
                        proxy.connection_string)
    assert again.rc == 0, again.explain()
    exact(blob_container, "nothread", orders)

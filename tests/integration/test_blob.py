"""Backups into Azure Blob Storage (Azurite 3.35.0), read back with the official
azure-storage-blob package (tests/support/blobcheck.py) and compared with the source read by
pymongo: connection strings and SAS URLs, compression, many blocks, faults injected by an HTTP
proxy, a kill mid-window, and bad input as a new user would type it."""

from __future__ import annotations

import signal
import time

import pytest

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


@pytest.mark.parametrize("cs,why", [
    ("AccountName=devstoreaccount1", "neither AccountKey nor SharedAccessSignature"),
    ("AccountName=devstoreaccount1;AccountKey=not*base64", "not valid Base64"),
    ("this is not a connection string", "has no '='"),
    ("AccountKey=QUJD;BlobEndpoint=ftp://x/y", "not an http:// or https:// URL"),
])
def test_malformed_connection_string(ferretdb, orders, blob_container, cs, why):
    res = blob_backup(ferretdb, orders, f"azblob://{blob_container.container_name}",
                      "--blob-connection-string", cs)
    assert res.rc == 2, res.explain()
    assert why in res.stderr


def test_azblob_without_credentials_says_where_they_come_from(ferretdb, orders, blob_container):
    res = blob_backup(ferretdb, orders, f"azblob://{blob_container.container_name}",
                      env={"AZURE_STORAGE_CONNECTION_STRING": ""})
    assert res.rc == 2, res.explain()
    assert "--blob-connection-string" in res.stderr
    assert "AZURE_STORAGE_CONNECTION_STRING" in res.stderr


def test_container_name_too_short(ferretdb, orders, azurite):
    res = blob_backup(ferretdb, orders, "azblob://ab/p", "--blob-connection-string",
                      azurite.connection_string)
    assert res.rc == 2, res.explain()
    assert 'container name "ab" must be 3 to 63 characters' in res.stderr


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

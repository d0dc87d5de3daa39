"""The blob test support itself: Azurite (tests/support/azurite.py), the
HTTP fault proxy (tests/support/httpfault.py) and the independent reader
of blob backups (tests/support/blobcheck.py), checked with the official
azure-storage-blob package and plain http.client."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient, ContainerClient, LinearRetry

import backupcheck as bc
import blobcheck
import clirun
import datagen
from azurite import API_VERSION, Azurite
from httpfault import FaultRule

DAY = 86400
HOUR = 3600
BASE = (int(time.time()) - 2 * DAY) // (4 * HOUR) * (4 * HOUR)


def _sas_target(sas_url: str, blob: str) -> str:
    """Path and query of ``blob`` under a container SAS URL (no prefix)."""
    parts = urlsplit(sas_url)
    return f"{parts.path.rstrip('/')}/{blob}?{parts.query}"


def _put_blob(port: int, sas_url: str, blob: str, body: bytes, headers: dict | None = None):
    """A raw Put Blob through 127.0.0.1:port with http.client; returns
    (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("PUT", _sas_target(sas_url, blob), body=body, headers={
            "x-ms-version": API_VERSION, "x-ms-blob-type": "BlockBlob", **(headers or {})})
        r = conn.getresponse()
        return r.status, r, r.read()
    finally:
        conn.close()


def _get(conn: http.client.HTTPConnection, target: str):
    conn.request("GET", target, headers={"x-ms-version": API_VERSION})
    r = conn.getresponse()
    return r.status, r, r.read()


def _blob_names(container) -> list[str]:
    return sorted(b.name for b in container.list_blobs())


# ---------------------------------------------------------------- Azurite


def test_azurite_round_trips_a_blob(azurite, blob_container):
    assert 3 <= len(blob_container.container_name) <= 63
    payload = bytes(range(256)) * 1000
    blob_container.upload_blob("p/db/coll/a.bin", payload, metadata={"src": "cosmos"})
    blob = blob_container.get_blob_client("p/db/coll/a.bin")
    assert blob.download_blob().readall() == payload
    props = blob.get_blob_properties()
    assert props.size == len(payload) and props.metadata == {"src": "cosmos"}
    assert _blob_names(blob_container) == ["p/db/coll/a.bin"]
    assert azurite.connection_string == (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        f"{azurite.account_key};BlobEndpoint=http://127.0.0.1:{azurite.port}/devstoreaccount1;")


def test_azurite_is_strict_about_the_api_version(azurite, blob_container):
    """No --skipApiVersionCheck: azure-storage-blob's own default version is
    newer than Azurite 3.35 knows, hence API_VERSION in the helpers."""
    sdk_default = BlobServiceClient.from_connection_string(azurite.connection_string)
    with pytest.raises(HttpResponseError) as e:
        sdk_default.get_container_client(blob_container.container_name).get_container_properties()
    assert e.value.error_code == "InvalidHeaderValue"
    assert blob_container.get_container_properties().name == blob_container.container_name


def test_sas_url_grants_what_it_says(azurite, blob_container):
    name = blob_container.container_name
    url = azurite.sas_url(name, "nightly/run1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == f"http://127.0.0.1:{azurite.port}"
    assert parts.path == f"/devstoreaccount1/{name}/nightly/run1"
    assert "sig=" in parts.query and "sr=c" in parts.query

    container = ContainerClient.from_container_url(
        f"{azurite.blob_endpoint}/{name}?{parts.query}", api_version=API_VERSION)
    container.upload_blob("nightly/run1/db/coll/x.bson", b"data")
    assert [b.name for b in container.list_blobs(name_starts_with="nightly/")] == \
        ["nightly/run1/db/coll/x.bson"]

    read_only = azurite.sas_url(name, permissions="rl")
    status, resp, body = _put_blob(azurite.port, read_only, "y.bin", b"no")
    assert status == 403, body
    assert resp.getheader("x-ms-error-code") == "AuthorizationPermissionMismatch"


def test_restart_keeps_port_and_data():
    with Azurite() as az:
        port = az.port
        az.make_container("keep").upload_blob("a", b"kept")
        az.restart()
        assert az.port == port and az.running
        assert az.service_client().get_container_client("keep").download_blob("a").readall() \
            == b"kept"


# ---------------------------------------------------------------- fault proxy


def test_proxy_forwards_the_sdk_faithfully(azurite, blob_container, blob_fault_proxy):
    """Shared Key and SAS requests signed for the proxy's address pass
    through unchanged: Put Block, Put Block List, listing, ranged reads."""
    proxy = blob_fault_proxy(azurite)
    assert proxy.url == f"http://127.0.0.1:{proxy.port}/devstoreaccount1"
    service = BlobServiceClient.from_connection_string(
        proxy.connection_string, api_version=API_VERSION,
        max_single_put_size=64 * 1024, max_block_size=64 * 1024, max_chunk_get_size=64 * 1024,
        max_single_get_size=64 * 1024)
    container = service.get_container_client(blob_container.container_name)
    payload = bytes(i * 7 % 251 for i in range(300_000))
    container.upload_blob("db/coll/big.bson", payload)
    assert container.download_blob("db/coll/big.bson").readall() == payload
    assert _blob_names(container) == ["db/coll/big.bson"]
    # What went through the proxy is what Azurite itself holds.
    assert blob_container.download_blob("db/coll/big.bson").readall() == payload

    c = proxy.counters()
    assert c["by_request"]["PUT comp=block"]["requests"] == 5  # ceil(300,000 / 65,536)
    assert c["by_request"]["PUT comp=blocklist"]["requests"] == 1
    assert c["by_request"]["GET comp=list"]["requests"] == 1
    assert c["requests"] == c["forwarded"] and c["statuses"].get("403") is None

    sas = proxy.via(azurite.sas_url(blob_container.container_name))
    assert urlsplit(sas).port == proxy.port
    status, _, _ = _put_blob(proxy.port, sas, "db/coll/small", b"x" * 10)
    assert status == 201


def test_expect_100_continue_is_answered(azurite, blob_container, blob_fault_proxy):
    proxy = blob_fault_proxy(azurite)
    sas = azurite.sas_url(blob_container.container_name)
    status, _, _ = _put_blob(proxy.port, sas, "expect", b"e" * 5000,
                             headers={"Expect": "100-continue"})
    assert status == 201
    assert blob_container.download_blob("expect").readall() == b"e" * 5000


def test_server_busy_is_a_503_with_retry_after_and_not_forwarded(azurite, blob_container,
                                                                 blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("server_busy", method="PUT", retry_after=7, on={1})])
    sas = azurite.sas_url(blob_container.container_name)
    status, resp, body = _put_blob(proxy.port, sas, "busy", b"b",
                                   headers={"x-ms-client-request-id": "req-1"})
    assert status == 503
    assert resp.getheader("x-ms-error-code") == "ServerBusy"
    assert resp.getheader("Retry-After") == "7"
    assert resp.getheader("x-ms-client-request-id") == "req-1"
    assert resp.getheader("Content-Type") == "application/xml"
    assert re.fullmatch(
        rb'<\?xml version="1.0" encoding="utf-8"\?><Error><Code>ServerBusy</Code>'
        rb"<Message>The server is busy.\nRequestId:[0-9a-f-]{36}\n"
        rb"Time:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z</Message></Error>", body), body
    assert _blob_names(blob_container) == []  # never reached Azurite
    status, _, _ = _put_blob(proxy.port, sas, "busy", b"b")  # ordinal 2: passes
    assert status == 201
    c = proxy.counters()
    assert (c["requests"], c["forwarded"], c["server_busy"]) == (2, 1, 1)
    assert c["statuses"] == {"503": 1, "201": 1}
    assert c["by_request"]["PUT"] == {"requests": 2, "faults": 1}


def test_operation_timed_out_is_a_500(azurite, blob_container, blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[FaultRule("operation_timed_out", rate=1.0)])
    sas = azurite.sas_url(blob_container.container_name)
    status, resp, body = _put_blob(proxy.port, sas, "t", b"t")
    assert status == 500
    assert resp.getheader("x-ms-error-code") == "OperationTimedOut"
    assert resp.getheader("Retry-After") is None
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?><Error>'
                           b"<Code>OperationTimedOut</Code><Message>")
    assert _blob_names(blob_container) == []
    assert proxy.counters()["operation_timed_out"] == 1


def test_drop_reply_applies_the_request_and_loses_the_reply(azurite, blob_container,
                                                           blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[FaultRule("drop_reply", on={1, 2})])
    sas = azurite.sas_url(blob_container.container_name)
    with pytest.raises(http.client.IncompleteRead):  # a 201 without body, cut short
        _put_blob(proxy.port, sas, "applied", b"a")
    assert blob_container.download_blob("applied").readall() == b"a"
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    with pytest.raises(http.client.IncompleteRead):  # a body, cut in half
        _get(conn, _sas_target(sas, "applied"))
    conn.close()
    c = proxy.counters()
    assert (c["drop_reply"], c["forwarded"], c["statuses"]) == (2, 2, {})
    assert [e["fault"] for e in proxy.requests_log()] == ["drop_reply", "drop_reply"]


def _curl_two_puts(proxy_port: int, sas: str) -> subprocess.CompletedProcess:
    """Two Put Blobs on one (reused) connection with the curl command."""
    parts = urlsplit(sas)
    args = ["curl", "-sS", "-v"]
    for i, name in enumerate(("one", "two")):
        if i:
            args.append("--next")
        args += ["-X", "PUT", "-o", "/dev/null", "-w", "%{http_code}\\n",
                 "-H", f"x-ms-version: {API_VERSION}", "-H", "x-ms-blob-type: BlockBlob",
                 "--data-binary", name,
                 f"http://127.0.0.1:{proxy_port}{parts.path}/{name}?{parts.query}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_libcurl_sees_the_dropped_reply_and_resends_the_dropped_request(
        azurite, blob_container, blob_fault_proxy):
    """What the engine's HTTP client (libcurl) makes of the two drops on a
    reused connection: a cut reply is an error (18, CURLE_PARTIAL_FILE); a
    request dropped before any reply byte is resent by libcurl itself."""
    sas = azurite.sas_url(blob_container.container_name)
    proxy = blob_fault_proxy(azurite, rules=[FaultRule("drop_reply", method="PUT", on={2})])
    res = _curl_two_puts(proxy.port, sas)
    assert res.returncode == 18, res.stderr
    assert proxy.counters()["requests"] == 2

    proxy.configure(rules=[FaultRule("drop_request", method="PUT", on={2})])
    proxy.reset_counters()
    res = _curl_two_puts(proxy.port, sas)
    assert res.returncode == 0 and res.stdout.split() == ["201", "201"], res.stderr
    assert "retrying a fresh connect" in res.stderr
    c = proxy.counters()
    assert (c["requests"], c["drop_request"], c["forwarded"]) == (3, 1, 2)


def test_drop_request_forwards_nothing(azurite, blob_container, blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[FaultRule("drop_request", method="PUT", on={1})])
    sas = azurite.sas_url(blob_container.container_name)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        _put_blob(proxy.port, sas, "lost", b"l")
    assert _blob_names(blob_container) == []
    c = proxy.counters()
    assert (c["drop_request"], c["forwarded"]) == (1, 0)


def test_slow_delays_the_reply(azurite, blob_container, blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[FaultRule("slow", method="PUT", delay_ms=400,
                                                                 rate=1.0)])
    sas = azurite.sas_url(blob_container.container_name)
    t0 = time.monotonic()
    status, _, _ = _put_blob(proxy.port, sas, "slow", b"s")
    assert status == 201 and time.monotonic() - t0 >= 0.4
    assert proxy.counters()["slow"] == 1


def test_stall_holds_the_request_before_the_server_sees_it(azurite, blob_container,
                                                         blob_fault_proxy):
    proxy = blob_fault_proxy(azurite, rules=[FaultRule("stall", method="PUT", delay_ms=1500,
                                                       rate=1.0)])
    sas = azurite.sas_url(blob_container.container_name)
    # a client that gives up first: the request still reaches the server, late
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=0.5)
    t0 = time.time()
    try:
        conn.request("PUT", _sas_target(sas, "stalled"), body=b"late", headers={
            "x-ms-version": API_VERSION, "x-ms-blob-type": "BlockBlob"})
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    assert _blob_names(blob_container) == []  # not yet at the server
    clirun.wait_for(lambda: _blob_names(blob_container) == ["stalled"], 10,
                    what="the stalled request applied")
    assert blob_container.download_blob("stalled").readall() == b"late"
    (entry,) = proxy.requests_log()
    assert entry["fault"] == "stall"
    assert t0 <= entry["at"] < t0 + 0.5
    assert entry["forwarded_at"] - entry["at"] >= 1.5
    # a client that waits gets the answer after the stall
    t1 = time.monotonic()
    status, _, _ = _put_blob(proxy.port, sas, "stalled2", b"s")
    assert status == 201 and time.monotonic() - t1 >= 1.5
    assert proxy.counters()["stall"] == 2


def test_schedule_counts_matching_requests_only_and_keeps_alive(azurite, blob_container,
                                                               blob_fault_proxy):
    blob_container.upload_blob("x", b"x")
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("server_busy", method="GET", query="restype=container&comp=list", on={2, 4})])
    sas = azurite.sas_url(blob_container.container_name)
    list_target = urlsplit(sas).path + "?restype=container&comp=list&" + urlsplit(sas).query
    blob_target = _sas_target(sas, "x")
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    statuses = []
    for _ in range(5):
        statuses.append(_get(conn, list_target)[0])
        statuses.append(_get(conn, blob_target)[0])  # not a listing: never counted
    conn.close()
    assert statuses == [200, 200, 503, 200, 200, 200, 503, 200, 200, 200]
    log = proxy.requests_log()
    assert [e["fault"] for e in log].count("server_busy") == 2

    proxy.reset_counters()  # ordinals restart
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    assert [_get(conn, list_target)[0] for _ in range(2)] == [200, 503]
    conn.close()


def test_query_matches_whole_parameters(azurite, blob_container, blob_fault_proxy):
    """``comp=block`` must not catch Put Block List (comp=blocklist)."""
    proxy = blob_fault_proxy(azurite, rules=[FaultRule("server_busy", query="comp=block",
                                                       on={1}, retry_after=None)])
    container = BlobServiceClient.from_connection_string(
        proxy.connection_string, api_version=API_VERSION, max_single_put_size=1024,
        max_block_size=1024, retry_policy=LinearRetry(backoff=0.05, random_jitter_range=0),
    ).get_container_client(blob_container.container_name)
    container.upload_blob("blocks", b"z" * 3000)  # 3 Put Block (the first retried), 1 list
    assert blob_container.download_blob("blocks").readall() == b"z" * 3000
    c = proxy.counters()
    assert c["by_request"]["PUT comp=block"] == {"requests": 4, "faults": 1}
    assert c["by_request"]["PUT comp=blocklist"] == {"requests": 1, "faults": 0}


def test_rate_is_seeded_and_reproducible(azurite, blob_container, blob_fault_proxy):
    blob_container.upload_blob("r", b"r")
    proxy = blob_fault_proxy(azurite, seed=42,
                             rules=[FaultRule("server_busy", method="GET", rate=0.3)])
    target = _sas_target(azurite.sas_url(blob_container.container_name), "r")

    def pattern():
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        out = [_get(conn, target)[0] for _ in range(40)]
        conn.close()
        return out

    first = pattern()
    assert set(first) == {200, 503} and 4 <= first.count(503) <= 24
    proxy.configure(seed=42)
    assert pattern() == first
    proxy.configure(seed=43)
    assert pattern() != first
    proxy.configure(rules=[])
    assert set(pattern()) == {200}


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="unknown fault"):
        FaultRule("teapot")
    with pytest.raises(ValueError, match="1-based"):
        FaultRule("server_busy", on={0})
    with pytest.raises(ValueError, match="delay_ms"):
        FaultRule("slow", rate=1.0)
    with pytest.raises(ValueError, match="a stall rule needs delay_ms"):
        FaultRule("stall", rate=1.0)
    with pytest.raises(ValueError, match="never fires"):
        FaultRule("server_busy", method="PUT")


# ---------------------------------------------------------------- blobcheck


@pytest.fixture(scope="module")
def folder_backup(ferretdb, tmp_path_factory):
    """A real folder backup by build/cosmocopy of a small database: 200
    ObjectId documents over one day (--step 4h) and 5 other _ids."""
    client = ferretdb.client()
    db = client[f"blob_{uuid.uuid4().hex[:8]}"]
    datagen.insert_spread(db.orders, BASE, BASE + DAY, 200, doc_size=300, seed=5)
    datagen.insert_non_oid(db.orders, 5, seed=6)
    datagen.insert_spread(db.events, BASE, BASE + 8 * HOUR, 30, doc_size=200, seed=7)
    dest = tmp_path_factory.mktemp("blobsrc") / "bk"
    res = clirun.backup(ferretdb.uri, db.name, dest, "--step", "4h", "--compress", "zstd")
    assert res.rc == 0, res.explain()
    yield db, dest
    client.drop_database(db.name)
    client.close()


def _upload_folder(container, folder: Path, prefix: str) -> list[str]:
    names = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        name = f"{prefix.strip('/')}/{rel}" if prefix.strip("/") else rel
        container.upload_blob(name, path.read_bytes())
        names.append(name)
    return names


@pytest.mark.parametrize("prefix", ["nightly/run1", ""])
def test_blobcheck_reads_what_backupcheck_reads(folder_backup, blob_container, prefix):
    db, dest = folder_backup
    _upload_folder(blob_container, dest, prefix)
    blob_container.upload_blob("stray-at-the-top", b"ignored")  # outside <db>/<coll>/

    folder = bc.read_backup(dest)
    blob = blobcheck.read_blob_backup(blob_container, prefix)
    assert blob.collections() == folder.collections() == {(db.name, "orders"),
                                                           (db.name, "events")}
    assert blob.metadata == folder.metadata and blob.metadata
    assert [(w.manifest_path.name, w.manifest, w.docs) for w in blob.windows] == \
        [(w.manifest_path.name, w.manifest, w.docs) for w in folder.windows]
    assert len(blob.windows_of(db.name, "orders", "window")) >= 6
    assert len(blob.windows_of(db.name, "orders", "non-objectid")) == 1
    for coll in ("orders", "events"):
        bc.assert_same_docs(blob.docs(db.name, coll), folder.docs(db.name, coll))

    w = blob.windows_of(db.name, "orders", "window")[0]
    base = f"{blob_container.container_name}/{prefix}/".replace("//", "/")
    assert str(w.data_path) == f"{base}{db.name}/orders/{w.manifest['data']}"
    assert w.read_stored() == (dest / db.name / "orders" / w.manifest["data"]).read_bytes()

    matched = blobcheck.assert_blob_backup_matches(blob_container, prefix, db)
    assert len(matched.windows) == len(folder.windows)
    if prefix:  # a neighbouring prefix sees nothing of this one
        assert blobcheck.read_blob_backup(blob_container, "nightly").windows == []
        assert blobcheck.read_blob_backup(blob_container, "nightly/run").windows == []


def test_blobcheck_catches_a_damaged_blob_backup(folder_backup, blob_container):
    db, dest = folder_backup
    _upload_folder(blob_container, dest, "bk")
    full = [w for w in bc.read_backup(dest).windows_of(db.name, "orders", "window")
            if w.manifest["documents"] > 0]
    victim = f"bk/{db.name}/orders/{full[2].manifest['data']}"
    data = bytearray(blob_container.download_blob(victim).readall())
    data[len(data) // 2] ^= 0x01
    blob_container.upload_blob(victim, bytes(data), overwrite=True)
    with pytest.raises(AssertionError, match=f"{re.escape(victim)}: sha256"):
        blobcheck.read_blob_backup(blob_container, "bk")

    blob_container.delete_blob(victim)
    with pytest.raises(AssertionError, match="missing"):
        blobcheck.read_blob_backup(blob_container, "bk")

    manifest = victim.replace(".bson.zst", ".manifest.json")
    blob_container.delete_blob(manifest)
    with pytest.raises(AssertionError, match="missing"):  # documents of that window
        blobcheck.assert_blob_backup_matches(blob_container, "bk", db)


def test_blobcheck_checks_the_manifest_like_backupcheck(folder_backup, blob_container, tmp_path):
    """The same rule fails the same way in both readers (here: a count)."""
    db, dest = folder_backup
    copy = tmp_path / "copy"
    shutil.copytree(dest, copy)
    mpath = sorted((copy / db.name / "events").glob("*.manifest.json"))[0]
    text, n = re.subn(r'"documents":\s*(\d+)', lambda m: f'"documents": {int(m.group(1)) + 1}',
                      mpath.read_text(), count=1)
    assert n == 1
    mpath.write_text(text)
    with pytest.raises(AssertionError, match="manifest says") as folder_err:
        bc.read_backup(copy)
    _upload_folder(blob_container, copy, "")
    with pytest.raises(AssertionError, match="manifest says") as blob_err:
        blobcheck.read_blob_backup(blob_container)
    tail = str(folder_err.value).split(": ", 1)[1]
    assert str(blob_err.value).split(": ", 1)[1] == tail

"""cosmocopy.distributed: one job across a Dask LocalCluster of two worker processes, against the
real FerretDB and Azurite: a full backup of several collections matching the source exactly and
a rerun copying nothing; a worker killed mid-job and the job still exact; a replicate whose
workers together stay under one RU budget, measured by the Cosmos proxy's counters; no secret in
the scheduler's task specs, and plain secrets refused."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest

import backupcheck as bc
import blobcheck
import datagen
from pkgtest import HOUR, START

dask = pytest.importorskip("dask")
from distributed import Client, LocalCluster  # noqa: E402

COLLECTIONS = ("orders", "users", "events")


@pytest.fixture(scope="module")
def client(azurite):
    """Two worker processes, one thread each. The workers take the blob credentials from their
    environment (as on a real cluster), never from task arguments."""
    import cosmocopy.distributed as ccd

    saved = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
    with dask.config.set(ccd.cluster_config()):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0", memory_limit="1GiB",
                               silence_logs=logging.CRITICAL)
        c = Client(cluster)
        try:
            yield c
        finally:
            c.close()
            cluster.close()
    if saved is None:
        os.environ.pop("AZURE_STORAGE_CONNECTION_STRING", None)
    else:
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = saved


@pytest.fixture
def ccd(client):
    import cosmocopy.distributed as ccd

    return ccd


@pytest.fixture
def source(mongo, db_name):
    """Three collections of 480 documents (about 1 KB) over 12 hours, 12 one-hour windows each."""
    for i, name in enumerate(COLLECTIONS):
        datagen.insert_spread(mongo[db_name][name], START, START + 12 * HOUR, 480,
                              doc_size=1024, seed=i, keep_ids=False)
    return mongo[db_name]


def args(ferretdb, db_name, **extra):
    return dict(source=ferretdb.uri, db=db_name, step="1h", parallel=1, from_=START,
                until=START + 12 * HOUR, **extra)


def test_backup_to_blob_matches_the_source_and_a_rerun_copies_nothing(
        cc, ccd, client, source, ferretdb, db_name, blob_container):
    seen = []
    to = f"azblob://{blob_container.container_name}/dask"
    result = ccd.backup(client, to=to, windows_per_task=2, progress=seen.append,
                        **args(ferretdb, db_name))
    assert isinstance(result, cc.Result) and result.ok and result.status == "ok"
    assert result.windows_written == 36 and result.documents == 3 * 480
    blobcheck.assert_blob_backup_matches(blob_container, "dask", source, COLLECTIONS)
    workers = set(client.scheduler_info()["workers"])
    assert {w.worker for w in result.windows} <= workers
    assert sorted({w.collection for w in result.windows}) == sorted(COLLECTIONS)
    assert sum(c.documents for c in result.collections) == 3 * 480
    assert seen and seen[-1].windows_done == 36 and seen[-1].documents == 3 * 480
    # the destination's lock was let go at the end: a local run may take it; nothing left to do
    again = ccd.backup(client, to=to, **args(ferretdb, db_name))
    assert again.ok and again.windows_written == 0 and again.windows_already_complete == 36
    assert again.windows == []
    local = cc.backup(to=to, **args(ferretdb, db_name))
    assert local.windows_written == 0
    # verify and restore of that backup, across the cluster too
    checked = ccd.verify(client, source=ferretdb.uri, db=db_name, backup=to, windows_per_task=4)
    assert checked.status == "ok" and len(checked.verdicts) == 36
    assert all(v.status == "ok" and v.worker in workers for v in checked.verdicts)
    restored = ccd.restore(client, from_=to, target=ferretdb.uri, db=db_name,
                           to_db=db_name + "_restored", windows_per_task=4)
    assert restored.ok and restored.documents == 3 * 480
    for name in COLLECTIONS:
        bc.assert_same_docs(bc.source_docs(source.client[db_name + "_restored"][name]),
                            bc.source_docs(source[name]), name)
    source.client.drop_database(db_name + "_restored")


def test_a_worker_killed_mid_job_and_the_job_still_exact(cc, ccd, client, source, ferretdb,
                                                         db_name, cosmos_proxy, tmp_path):
    # a slow source (the proxy's RU budget) so the kill lands while tasks run
    proxy = cosmos_proxy(ferretdb, ru_per_second=600)
    uri = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
    killed = []
    lock = threading.Lock()

    def kill_one(p):
        with lock:
            if killed or p.windows_done < 4:
                return
            addr = sorted(client.scheduler_info()["workers"])[0]
            pid = client.run(os.getpid, workers=[addr])[addr]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    result = ccd.backup(client, to=f"dir:{tmp_path / 'bk'}", windows_per_task=1,
                        progress=kill_one, **dict(args(ferretdb, db_name), source=uri))
    assert killed, "the progress hook never killed a worker"
    assert result.ok and result.windows_failed == 0
    assert result.windows_written + result.windows_already_complete == 36
    bc.assert_backup_matches(tmp_path / "bk", source, COLLECTIONS)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    # a rerun finds everything complete, and (taking the lock) clears what the killed worker
    # left half-written, as after a killed local run
    again = ccd.backup(client, to=f"dir:{tmp_path / 'bk'}", **args(ferretdb, db_name))
    assert again.windows_written == 0 and again.windows_already_complete == 36
    assert bc.leftover_temps(tmp_path / "bk") == []


def test_the_workers_together_stay_under_one_ru_budget(cc, ccd, client, source, ferretdb, db_name,
                                                       mongo, cosmos_proxy):
    budget = 150
    # the account's provisioned throughput is the budget: more than it gets throttled
    proxy = cosmos_proxy(ferretdb, ru_per_second=budget, burst_seconds=1)
    uri = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
    proxy.reset_counters()
    result = ccd.replicate(client, target=ferretdb.uri, target_db=db_name + "_r", max_ru=budget,
                           leases=2, windows_per_task=1, batch_size=40,
                           **dict(args(ferretdb, db_name), source=uri))
    counters = proxy.counters()
    assert result.ok and result.windows_written == 36
    for name in COLLECTIONS:
        bc.assert_same_docs(bc.source_docs(mongo[db_name + "_r"][name]),
                            bc.source_docs(source[name]), name)
    mongo.drop_database(db_name + "_r")
    # every lease paced to budget/2: the server never had to throttle the sum, and what it
    # charged is what the budget allows over the run (plus one second of burst per lease)
    assert counters["throttled"] <= 0.02 * counters["charged_requests"], counters
    charged = counters["ru_charged"]
    assert charged > 2 * budget  # the run was long enough to be paced
    assert charged <= budget * counters["elapsed_s"] + 3 * budget, counters
    assert result.request_units.budget == budget
    assert {w.worker for w in result.windows} <= set(client.scheduler_info()["workers"])


def test_a_source_lost_mid_job_says_how_many_windows_failed_in_all(
        cc, ccd, client, source, ferretdb, db_name, cosmos_proxy, tmp_path):
    """The source goes away once the tasks run: the windows being read fail (a failure stops
    the rest, as in a local run) and tasks whose helper could not plan run none. The message
    counts the failed windows of the whole job, as .result does (each helper's message counted
    only its own), and names a failed window first."""
    proxy = cosmos_proxy(ferretdb, ru_per_second=40)
    uri = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"

    def lose_the_source(p):
        if p.windows_done + p.windows_failed < p.windows_total:
            proxy.stop()

    with pytest.raises(cc.Error) as failed:
        ccd.backup(client, to=f"dir:{tmp_path / 'bk'}", collection="orders", windows_per_task=3,
                   retry_budget=1, retry_max_delay_ms=200, server_timeout_ms=1000,
                   progress=lose_the_source, **dict(args(ferretdb, db_name), source=uri))
    result = failed.value.result
    assert result.status == "failed"
    assert result.windows_written + result.windows_failed < 12, result.to_dict()
    assert result.windows_failed > 1, result.to_dict()
    assert str(failed.value).startswith(f"{result.windows_failed} windows failed, the first: "
                                        f"window {db_name}.orders ["), str(failed.value)
    assert len(result.windows) == result.windows_written


def test_no_secret_in_task_arguments_and_plain_secrets_refused(cc, ccd, client, source, ferretdb,
                                                              db_name, azurite, blob_container):
    specs: list[str] = []

    def dump(p):
        if not specs:
            specs.extend(client.run_on_scheduler(
                lambda dask_scheduler: [repr(ts.run_spec) for ts in dask_scheduler.tasks.values()]))

    to = f"azblob://{blob_container.container_name}/s"
    result = ccd.backup(client, to=to, windows_per_task=6, progress=dump, **args(ferretdb, db_name))
    assert result.ok and specs
    text = "\n".join(specs)
    assert "cosmocopy-backup" in text or "_run_on_worker" in text
    assert azurite.account_key not in text and "AccountKey" not in text
    # a password or a key in an argument is refused before anything is sent
    with pytest.raises(cc.UsageError, match=r"source is a MongoDB connection string with a "
                                            r"password.*kv://VAULT/SECRET") as e:
        ccd.backup(client, to=to, **dict(args(ferretdb, db_name),
                                         source="mongodb://u:hunter2@127.0.0.1:1/"))
    assert "hunter2" not in str(e.value)
    with pytest.raises(cc.UsageError, match="blob_connection_string is a storage connection "
                                            "string with a key"):
        ccd.backup(client, to=to, blob_connection_string=azurite.connection_string,
                   **args(ferretdb, db_name))
    with pytest.raises(cc.UsageError, match="drop and copy_indexes"):
        ccd.restore(client, from_=to, target=ferretdb.uri, db=db_name, drop=True)


@pytest.mark.parametrize("max_ru", ["lots", float("nan"), 1e3, 10**30])
def test_a_budget_that_is_no_number_is_refused_naming_max_ru(cc, max_ru):
    import types

    import cosmocopy.distributed as ccd

    unused = types.SimpleNamespace(submit=None)  # refused before the cluster is asked anything
    with pytest.raises(cc.UsageError, match=r"backup\(max_ru=") as caught:
        ccd.backup(unused, source="mongodb://127.0.0.1:1/", db="d", to="dir:/nowhere",
                   max_ru=max_ru)
    assert caught.value.code_name == "EINVAL"


def test_the_lease_timeout_is_the_jobs_own_whatever_dask_is_set_to(cc, ccd, client, source,
                                                                   ferretdb, db_name, tmp_path):
    """README: a dead worker's lease comes back after the job's lease timeout (10 s,
    ccd.LEASE_TIMEOUT), not Dask's 30 s: the scheduler keeps the timeout the semaphore was
    registered with, whatever the caller's dask config says meanwhile."""
    seen: dict[str, float] = {}

    def probe(p):
        if not seen:
            seen.update(client.run_on_scheduler(lambda dask_scheduler: {
                name: timeout for name, timeout
                in dask_scheduler.extensions["semaphores"].lease_timeouts.items()
                if name.startswith("cosmocopy-ru-")}))

    with dask.config.set({"distributed.scheduler.locks.lease-timeout": "30s"}):
        result = ccd.backup(client, to=f"dir:{tmp_path / 'bk'}", collection="orders",
                            windows_per_task=4, progress=probe, **args(ferretdb, db_name))
    assert result.ok and result.windows_written == 12
    assert seen and set(seen.values()) == {10}, seen
    assert {"stderr_progress", "cluster_config", "LEASE_TIMEOUT"} <= set(ccd.__all__)


def test_a_progress_callback_that_raises_stops_every_task_before_the_lock_goes(
        cc, ccd, client, source, ferretdb, db_name, cosmos_proxy, tmp_path):
    """README: the client holds the destination's lock until every window is back. A progress
    callback that raises stops the job as a local run's does: the running tasks stop, none is
    left writing once the call has raised, and a local run then takes the lock and finishes."""
    proxy = cosmos_proxy(ferretdb, ru_per_second=600)
    uri = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
    bk = tmp_path / "bk"

    class Enough(Exception):
        pass

    def stop_after_two(p):
        if p.windows_done >= 2:
            raise Enough

    with pytest.raises(Enough):
        ccd.backup(client, to=f"dir:{bk}", windows_per_task=1, progress=stop_after_two,
                   **dict(args(ferretdb, db_name), source=uri))
    assert not any(client.processing().values()), client.processing()
    written = sorted(str(p) for p in bk.rglob("*" + bc.MANIFEST_SUFFIX))
    assert 2 <= len(written) < 36
    time.sleep(3)  # a task still running would write more
    assert sorted(str(p) for p in bk.rglob("*" + bc.MANIFEST_SUFFIX)) == written
    local = cc.backup(to=f"dir:{bk}", **args(ferretdb, db_name))
    assert local.ok and local.windows_already_complete == len(written)
    assert local.windows_written == 36 - len(written)
    bc.assert_backup_matches(bk, source, COLLECTIONS)
    assert bc.leftover_temps(bk) == []


def test_short_tasks_stay_within_max_ru_and_an_iterator_of_collections_is_read_once(
        cc, ccd, client, source, ferretdb, db_name, cosmos_proxy, tmp_path):
    """max_ru is the budget of the whole job however short its tasks: each job's governor starts
    with a second of burst, and a task of one small window was all burst (about seven times the
    budget). A one-shot iterator for collection names what a local run would copy."""
    budget = 40
    proxy = cosmos_proxy(ferretdb)  # no budget of its own: it measures what was spent
    uri = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
    proxy.reset_counters()
    result = ccd.backup(client, to=f"dir:{tmp_path / 'bk'}", max_ru=budget, leases=2,
                        windows_per_task=1, **dict(args(ferretdb, db_name), source=uri,
                                                   collection=iter(["orders"])))
    counters = proxy.counters()
    assert result.ok and result.windows_written == 12
    assert sorted({w.collection for w in result.windows}) == ["orders"]
    bc.assert_backup_matches(tmp_path / "bk", source, ["orders"])
    charged = counters["ru_charged"]
    assert charged > 3 * budget  # long enough to be paced
    assert charged <= budget * counters["elapsed_s"] + 2 * budget, counters


def test_target_max_ru_is_the_whole_jobs_budget_on_the_target(cc, ccd, client, source, ferretdb,
                                                              db_name, mongo, cosmos_proxy):
    """target_max_ru, as max_ru, is split between the leases: the workers together spend at most
    it on the target (each spent all of it before)."""
    budget = 300
    target = cosmos_proxy(ferretdb)  # measures what the writes cost
    target_uri = f"mongodb://127.0.0.1:{target.port}/?directConnection=true"
    target.reset_counters()
    try:
        result = ccd.replicate(client, target=target_uri, target_db=db_name + "_t",
                               target_max_ru=budget, leases=2, windows_per_task=1,
                               collection="orders", **args(ferretdb, db_name))
        counters = target.counters()
        assert result.ok and result.windows_written == 12
        bc.assert_same_docs(bc.source_docs(mongo[db_name + "_t"].orders),
                            bc.source_docs(source.orders), "orders")
    finally:
        mongo.drop_database(db_name + "_t")
    charged = counters["ru_charged"]
    assert charged > 3 * budget
    assert charged <= budget * counters["elapsed_s"] + 2 * budget, counters
    assert result.target_request_units.budget == budget


def test_verify_that_finds_a_difference_says_what_a_local_run_says(cc, ccd, client, source,
                                                                   ferretdb, db_name, tmp_path):
    """The same exception as cosmocopy.verify: its message counts the windows of the whole job
    (each worker's counted only its own), and request_units says where the charges came from as
    a local run does (the client read nothing)."""
    bk = f"dir:{tmp_path / 'bk'}"
    cc.backup(to=bk, collection="orders", **args(ferretdb, db_name))
    victim = source.orders.find_one(sort=[("_id", -1)])
    source.orders.update_one({"_id": victim["_id"]}, {"$set": {"changed": True}})
    check = dict(source=ferretdb.uri, db=db_name, backup=bk, collection="orders", deep=True)
    with pytest.raises(cc.MismatchError) as local:
        cc.verify(**check)
    with pytest.raises(cc.MismatchError) as spread:
        ccd.verify(client, windows_per_task=2, **check)
    assert str(spread.value) == str(local.value)
    assert str(local.value).startswith("1 of 12 windows differs: ")
    assert spread.value.result.status == "differs"
    assert [v.status for v in spread.value.result.verdicts] == \
        [v.status for v in local.value.result.verdicts]
    assert spread.value.result.request_units.source == local.value.result.request_units.source


@pytest.mark.parametrize("kw,value,words", [
    ("to", "http://127.0.0.1:10000/devstoreaccount1/c?sv=2021-08-06&sig=SECRETSIG",
     "to is a URL with a SAS signature"),
    ("source", "mongodb://127.0.0.1:1/?tls=true&tlsCertificateKeyFilePassword=SECRETSIG",
     "source is a MongoDB connection string with a password"),
    ("source", "mongodb://127.0.0.1:1/?authMechanism=MONGODB-AWS"
               "&authMechanismProperties=AWS_SESSION_TOKEN:SECRETSIG",
     "source is a MongoDB connection string with a password"),
    ("blob_connection_string", "BlobEndpoint=https://a.blob.core.windows.net/?sv=1&sig=SECRETSIG",
     "blob_connection_string is a storage connection string with a SAS"),
    ("blob_connection_string", "BlobEndpoint=https://a.blob.core.windows.net/;"
                               "SharedAccessSignature=sv=1&sig=SECRETSIG",
     "blob_connection_string is a storage connection string with a SAS"),
], ids=["http-sas-url", "tls-key-password", "aws-session-token", "sas-in-endpoint",
        "sas-connection-string"])
def test_every_secret_the_engine_masks_is_refused_before_the_cluster_is_asked(cc, kw, value,
                                                                               words):
    import types

    import cosmocopy.distributed as ccd

    options = dict(source="mongodb://127.0.0.1:1/", db="d", to="azblob://c/p")
    options[kw] = value
    with pytest.raises(cc.UsageError, match=words) as caught:
        ccd.backup(types.SimpleNamespace(submit=None), **options)
    assert "SECRETSIG" not in str(caught.value) + repr(caught.value)


def test_a_client_that_is_no_client_is_refused_naming_it_before_any_work(cc, ccd, client):
    from concurrent.futures import ThreadPoolExecutor

    source = "mongodb://127.0.0.1:1/"  # never reached: the client is checked first
    with ThreadPoolExecutor(1) as pool, pytest.raises(cc.UsageError,
                                                      match=r"backup\(client\): expected a "
                                                            r"dask.distributed.Client, not "
                                                            r"ThreadPoolExecutor") as caught:
        ccd.backup(pool, source=source, db="d", to="dir:/nowhere", leases=2)
    assert isinstance(caught.value, TypeError)
    closed = Client(client.scheduler.address)
    closed.close()
    with pytest.raises(cc.UsageError, match=r"backup\(client\): the client is closed"):
        ccd.backup(closed, source=source, db="d", to="dir:/nowhere")

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

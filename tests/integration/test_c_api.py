"""libcosmocopy embedded in a C program: options, a job with callbacks, the JSON summary, a
secret read from Key Vault."""
import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

import backupcheck as bc
import datagen
from clirun import REPO_ROOT, binary as cosmocopy_path

DAY = 86400


def last_json_line(text: str) -> dict:
    """The program's record; libmongoc's default log handler may print lines before it."""
    return json.loads(text[text.rindex('\n{"rc"') + 1 if '\n{"rc"' in text else 0:])


def build_program(tmp_path: Path, name: str = "c_api_backup", source: Path | None = None) -> Path:
    build = cosmocopy_path().parent
    sanitize = "CCOPY_SANITIZE:BOOL=ON" in (build / "CMakeCache.txt").read_text()
    exe = tmp_path / name
    source = source or REPO_ROOT / f"tests/integration/{name}.c"
    cmd = ["cc", "-std=c11", "-Wall", "-Werror", str(source),
           "-I", str(REPO_ROOT / "engine/include"), "-L", str(build), "-lcosmocopy",
           f"-Wl,-rpath,{build}", "-pthread", "-ldl", "-o", str(exe)]
    if sanitize:
        cmd[1:1] = ["-fsanitize=address,undefined"]
    subprocess.run(cmd, check=True)
    return exe


def test_a_c_program_runs_a_backup_through_the_library(ferretdb, mongo, db_name, tmp_path):
    now = int(time.time())
    datagen.insert_spread(mongo[db_name].orders, now - 3 * DAY, now - DAY, 600, doc_size=512, seed=71)
    datagen.insert_non_oid(mongo[db_name].orders, 4)
    exe = build_program(tmp_path)
    dest = tmp_path / "bk"
    res = subprocess.run([str(exe), ferretdb.uri, db_name, str(dest)], capture_output=True, text=True,
                         timeout=180)
    assert res.returncode == 0, res.stderr
    out = last_json_line(res.stdout)
    assert out["rc"] == 0
    assert out["progress_calls"] >= 2 and out["phases_done"] == 1 and not out["went_backwards"]
    summary = out["summary"]
    assert summary["status"] == "ok" and summary["documents"] == 604
    assert summary["collections"][0]["non_objectid_copied"] == 4
    assert all(w["data"].endswith(".bson.zst") for w in summary["windows"])
    bc.assert_backup_matches(dest, mongo[db_name])


def test_a_failed_job_reports_through_the_library(tmp_path):
    import clirun
    exe = build_program(tmp_path)
    port = clirun.closed_port()
    res = subprocess.run([str(exe), f"mongodb://u:Hidden123@127.0.0.1:{port}/?serverSelectionTimeoutMS=1000",
                          "shop", str(tmp_path / "bk")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    out = last_json_line(res.stdout)
    assert out["summary"]["status"] == "failed"
    assert out["summary"]["error"]["code"] == "ETIMEDOUT"
    assert f"127.0.0.1:{port}" in out["summary"]["error"]["message"]
    assert "Hidden123" not in res.stdout + res.stderr
    assert not (tmp_path / "bk").exists()  # nothing is created before the source answers


def test_a_c_program_restores_and_verifies_through_the_library(ferretdb, mongo, db_name, tmp_path):
    now = int(time.time())
    datagen.insert_spread(mongo[db_name].orders, now - 3 * DAY, now - DAY, 400, doc_size=300, seed=72)
    dest = tmp_path / "bk"
    res = subprocess.run([str(cosmocopy_path()), "backup", "--source", ferretdb.uri, "--db", db_name,
                          "--to", f"dir:{dest}", "--step", "1d", "--settle-lag", "0s", "--quiet"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    exe = build_program(tmp_path, "c_api_restore")
    target_db = db_name + "_r"
    res = subprocess.run([str(exe), ferretdb.uri, db_name, str(dest), target_db], capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout[res.stdout.rindex('\n{"restore"') + 1:])
    restore, verify = out["restore"]["summary"], out["verify"]["summary"]
    assert restore["command"] == "restore" and restore["status"] == "ok"
    assert restore["windows_verified"] == restore["windows_written"] == len(restore["planned"]) >= 3
    assert verify["command"] == "verify" and verify["status"] == "ok"
    assert all(v["status"] == "ok" and v["sha256"] == "ok" and v["deep"] for v in verify["verdicts"])
    raw = CodecOptions(document_class=RawBSONDocument)
    source = [d.raw for d in mongo[db_name].get_collection("orders", codec_options=raw).find(sort=[("_id", 1)])]
    restored = [d.raw for d in mongo[target_db].get_collection("orders", codec_options=raw).find(sort=[("_id", 1)])]
    assert len(source) == 400 and restored == source  # byte for byte, field order included
    mongo.drop_database(target_db)


# ---------------------------------------------------------------- threads and callbacks


def run_program(exe: Path, *args, env: dict | None = None, timeout: float = 180) -> tuple[dict, str]:
    res = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, **(env or {})})
    # the record is printed last: without it the program died (a sanitizer's report is on stderr)
    assert res.returncode in (0, 1) and '\n{"rc"' in res.stdout, res.stderr
    return last_json_line(res.stdout), res.stderr


def test_a_backup_that_cannot_start_a_worker_thread_fails(ferretdb, mongo, db_name, tmp_path):
    now = int(time.time())
    datagen.insert_spread(mongo[db_name].orders, now - 3 * DAY, now - DAY, 100, doc_size=256, seed=73)
    exe = build_program(tmp_path, "c_api_no_threads")
    dest = tmp_path / "bk"
    out, err = run_program(exe, "backup", ferretdb.uri, db_name, dest,
                           env={"CCOPY_TEST_THREADS_ALLOWED": "0"})
    assert out["rc"] != 0 and out["code"] == "EIO", err
    summary = out["summary"]
    assert summary["status"] == "failed" and summary["windows_written"] == 0
    assert summary["error"]["domain"] == "os"
    assert summary["error"]["message"].startswith("no worker thread could be started ("), summary
    assert not list(dest.rglob("*.manifest.json"))


def test_a_backup_that_starts_fewer_worker_threads_copies_everything_on_them(ferretdb, mongo, db_name,
                                                                             tmp_path):
    now = int(time.time())
    datagen.insert_spread(mongo[db_name].orders, now - 3 * DAY, now - DAY, 100, doc_size=256, seed=74)
    exe = build_program(tmp_path, "c_api_no_threads")
    dest = tmp_path / "bk"
    out, err = run_program(exe, "backup", ferretdb.uri, db_name, dest,
                           env={"CCOPY_TEST_THREADS_ALLOWED": "1"})
    assert out["rc"] == 0, err
    summary = out["summary"]
    assert summary["status"] == "ok" and summary["documents"] == 100
    assert any(w.startswith("only 1 of 2 worker threads could be started (") for w in summary["warnings"])
    bc.assert_backup_matches(dest, mongo[db_name])


# 0: not even the check of the backup can start; 2: the check runs (2 workers), the writing cannot.
@pytest.mark.parametrize("allowed", [0, 2])
def test_a_restore_that_cannot_start_its_workers_fails_and_drops_nothing(ferretdb, mongo, db_name,
                                                                          tmp_path, allowed):
    now = int(time.time())
    datagen.insert_spread(mongo[db_name].orders, now - 3 * DAY, now - DAY, 200, doc_size=256, seed=75)
    dest = tmp_path / "bk"
    res = subprocess.run([str(cosmocopy_path()), "backup", "--source", ferretdb.uri, "--db", db_name,
                          "--to", f"dir:{dest}", "--step", "1d", "--settle-lag", "0s", "--quiet"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    target_db = db_name + "_r"
    mongo[target_db].orders.insert_many([{"_id": i, "kept": True} for i in range(5)])
    try:
        exe = build_program(tmp_path, "c_api_no_threads")
        out, err = run_program(exe, "restore", ferretdb.uri, db_name, dest, target_db,
                               env={"CCOPY_TEST_THREADS_ALLOWED": str(allowed)})
        assert out["rc"] != 0 and out["code"] == "EIO", err
        summary = out["summary"]
        assert summary["status"] == "failed" and summary["windows_written"] == 0
        assert summary["windows_verified"] == (len(summary["planned"]) if allowed else 0)
        assert "no worker thread could be started" in summary["error"]["message"]
        # --drop waits for the writing workers: the target is as it was
        assert list(mongo[target_db].orders.find(sort=[("_id", 1)])) == \
            [{"_id": i, "kept": True} for i in range(5)]
    finally:
        mongo.drop_database(target_db)


def _many_collections(mongo, db_name, count: int) -> int:
    """count collections of a few documents each; returns the number of documents."""
    now = int(time.time())
    total = 0
    for i in range(count):
        n = 1 + i % 3
        mongo[db_name][f"c{i:03d}"].insert_many(
            [{"_id": datagen.make_oid(now - 2 * DAY + i * 60 + k, k), "i": i, "k": k} for k in range(n)])
        total += n
    return total


def test_progress_and_summary_can_be_read_from_another_thread_all_through_a_run(ferretdb, mongo, db_name,
                                                                                tmp_path):
    """Planning adds collections and windows while the other thread reads them (run under the
    ASan build, a read of a moved array is a heap-use-after-free)."""
    total = _many_collections(mongo, db_name, 400)
    exe = build_program(tmp_path, "c_api_callbacks")
    out, err = run_program(exe, "poll", ferretdb.uri, db_name, tmp_path / "bk", timeout=600)
    assert out["rc"] == 0, err
    assert out["polls"] > 0
    summary = out["summary"]
    assert summary["status"] == "ok" and summary["documents"] == total
    assert len(summary["collections"]) == 400
    bc.assert_backup_matches(tmp_path / "bk", mongo[db_name])


def test_a_log_callback_may_ask_for_the_summary_and_the_progress(ferretdb, mongo, db_name, tmp_path):
    total = _many_collections(mongo, db_name, 3)
    exe = build_program(tmp_path, "c_api_callbacks")
    # the callback used to wait for a lock its own thread held: the program hung
    out, err = run_program(exe, "log", ferretdb.uri, db_name, tmp_path / "bk", timeout=120)
    assert out["rc"] == 0, err
    # one line per collection: "no completed window yet, starting from the oldest ObjectId"
    assert out["log_lines"] >= 3 and out["summaries_in_log"] == out["log_lines"]
    assert out["status_in_log"] == "running"
    assert out["summary"]["status"] == "ok" and out["summary"]["documents"] == total


def test_a_job_that_says_it_is_done_has_let_go_of_its_destination(ferretdb, mongo, db_name,
                                                                   tmp_path):
    # the phase became DONE, and the progress callback was told so, before the folder's lock
    # was released: a service starting its next backup on the same folder then found it locked
    total = _many_collections(mongo, db_name, 2)
    exe = build_program(tmp_path, "c_api_callbacks")
    out, err = run_program(exe, "done", ferretdb.uri, db_name, tmp_path / "bk", timeout=120)
    assert out["rc"] == 0, err
    assert out["lock_free_at_done"] == 1, out
    assert out["summary"]["status"] == "ok" and out["summary"]["documents"] == total



def _oid_count(coll, start: int, end: int) -> int:
    from datetime import datetime, timezone
    from bson import ObjectId
    lo = ObjectId.from_datetime(datetime.fromtimestamp(start, timezone.utc))
    hi = ObjectId.from_datetime(datetime.fromtimestamp(end, timezone.utc))
    return coll.count_documents({"_id": {"$gte": lo, "$lt": hi}})


def _utc(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.fixture
def tasks_run(ferretdb, mongo, db_name, tmp_path):
    """c_api_tasks over four daily windows of 800 documents: its record and the folders."""
    day0 = (int(time.time()) // DAY - 6) * DAY
    datagen.insert_spread(mongo[db_name].orders, day0, day0 + 4 * DAY, 800, doc_size=256, seed=73)
    exe = build_program(tmp_path, "c_api_tasks")
    dest = tmp_path / "bk"
    res = subprocess.run([str(exe), ferretdb.uri, db_name, str(dest), f"@{day0}", f"@{day0 + 4 * DAY}"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout[res.stdout.index('{"rc_plan"'):]), day0, dest


def test_a_c_program_plans_runs_one_task_then_the_rest_and_reads_typed_results(
        tasks_run, mongo, db_name):
    out, day0, dest = tasks_run
    assert out["rc_plan"] == 0
    planned = out["planned"]
    # four daily windows of one collection, each serialised as a caller can send it elsewhere
    assert [(t["start"], t["end"]) for t in planned] == [(day0 + i * DAY, day0 + (i + 1) * DAY)
                                                          for i in range(4)]
    assert all(t["state"] == "pending" for t in planned)
    assert [t["json"] for t in planned] == [
        {"database": db_name, "collection": "orders", "kind": "window",
         "start": _utc(day0 + i * DAY), "end": _utc(day0 + (i + 1) * DAY)} for i in range(4)]
    # one task: that window alone is run, and it is complete
    assert out["rc_one"] == 0
    assert [t["state"] for t in out["after_one"]] == ["done", "pending", "pending", "pending"]
    assert out["written_after_one"] == 1 and out["status_after_one"] == "running"
    assert out["rc_bad"] == -1 and "task 9 does not exist: the job has 4 tasks" in out["bad_message"]
    # the rest, then the end; an ended job runs nothing more
    assert out["rc_rest"] == 0 and out["rc_finish"] == 0 and out["rc_again"] == -1
    tasks = out["tasks"]
    assert [t["state"] for t in tasks] == ["done"] * 4
    coll = mongo[db_name].orders
    for t in tasks:
        assert t["documents"] == _oid_count(coll, t["start"], t["end"])
        data = dest / db_name / "orders" / t["data"]
        assert hashlib.sha256(data.read_bytes()).hexdigest() == t["sha256"]
    typed, summary = out["typed"], out["summary"]
    # the typed results and the JSON summary agree: the JSON is made from them
    assert typed["status"] == summary["status"] == "ok"
    assert typed["windows_written"] == summary["windows_written"] == 4
    assert typed["windows_planned"] == summary["windows_planned"] == 4
    assert typed["documents"] == summary["documents"] == 800
    assert typed["bytes"] == summary["bytes"] > 0
    assert typed["database"] == db_name and typed["collection_names"] == ["orders"]
    assert [(w["documents"], w["sha256"], w["data"]) for w in typed["windows"]] == \
        [(w["documents"], w["sha256"], w["data"]) for w in summary["windows"]]
    assert sorted(w["sha256"] for w in typed["windows"]) == sorted(t["sha256"] for t in tasks)
    # versioned progress: a smaller struct gets the fields it knows and nothing past them
    assert out["rc_small"] == 0 and out["small_phase"] == 2 and out["small_untouched"] == 1
    assert out["rc_size0"] == -1
    bc.assert_backup_matches(dest, mongo[db_name])


def test_a_callback_stops_a_job_resumably_with_its_own_status(tasks_run, mongo, db_name):
    out, day0, dest = tasks_run
    # the progress callback returned 7 once copying began: a distinct code carrying 7
    assert out["rc_stopped"] == -16 and out["stop_cause"] == 7
    assert "stopped by a callback (it returned 7)" in out["stop_message"]
    assert "run again to continue" in out["stop_message"]
    assert out["stop_status"] == "stopped"
    # nothing incomplete was marked complete: the next job finishes the rest and the backup
    # holds exactly the source
    assert out["rc_continue"] == 0
    assert out["continue_written"] + out["continue_complete"] >= 4
    stopped = Path(str(dest) + "-stop")
    for manifest in stopped.glob(f"{db_name}/orders/*.manifest.json"):
        m = json.loads(manifest.read_text())
        assert (stopped / db_name / "orders" / m["data"]).exists()
    bc.assert_backup_matches(stopped, mongo[db_name])


def test_a_c_program_reads_a_secret_from_key_vault(keyvault, tmp_path, monkeypatch):
    sp = keyvault.add_service_principal()
    for name, value in keyvault.env_service_principal(sp).items():
        monkeypatch.setenv(name, value)
    keyvault.set_secret("conn", "mongodb://u:KvValue123@db.example:10255/?ssl=true")
    exe = build_program(tmp_path, "c_api_keyvault")
    ok = subprocess.run([str(exe), f"kv://127.0.0.1:{keyvault.port}/conn", keyvault.ca_file],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    out = last_json_line(ok.stdout)
    assert out["value"] == "mongodb://u:KvValue123@db.example:10255/?ssl=true"
    assert out["is_reference"] == 1
    missing = subprocess.run([str(exe), f"kv://127.0.0.1:{keyvault.port}/none", keyvault.ca_file],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1, missing.stderr
    out = last_json_line(missing.stdout)
    assert out["code"] == "ENOTFOUND" and out["value"] is None
    assert out["message"] == f"secret none not found in Key Vault 127.0.0.1:{keyvault.port}"


def test_the_readmes_c_example_compiles_and_runs_with_good_and_bad_options(ferretdb, mongo,
                                                                         db_name, tmp_path):
    """README's first C example, as written (only the server and the folder changed), in a
    main(): it backs up with good options and says so, without crashing, with bad ones."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Using the C library"):]
    example = section[section.index("```c\n") + 5:section.index("```", section.index("```c\n") + 5)]
    include, body = example.split("\n", 1)
    assert include == "#include <cosmocopy/cosmocopy.h>"
    datagen.insert_spread(mongo[db_name].orders, int(time.time()) - 3 * DAY,
                          int(time.time()) - DAY, 50, doc_size=128, seed=5)
    runs = {}
    for name, sink in (("good", f"dir:{tmp_path / 'bk'}"), ("bad", "ftp://nowhere")):
        code = body.replace('"mongodb://127.0.0.1:27017/"', f'"{ferretdb.uri}"')
        code = code.replace('"shop"', f'"{db_name}"').replace('"dir:/backups/shop"', f'"{sink}"')
        source = tmp_path / f"readme_{name}.c"
        source.write_text(f"#include <stdio.h>\n{include}\n\nint main(void)\n{{\n{code}"
                          "    return 0;\n}\n")
        exe = build_program(tmp_path, f"readme_{name}", source)
        runs[name] = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert runs["good"].returncode == 0 and "failed" not in runs["good"].stderr, runs["good"]
    bc.assert_backup_matches(tmp_path / "bk", mongo[db_name])
    assert runs["bad"].returncode == 0, runs["bad"]
    assert re.search(r"bad options: .*unsupported destination \"ftp://nowhere\"", runs["bad"].stderr)


@pytest.fixture
def steps_run(ferretdb, mongo, db_name, tmp_path):
    """c_api_steps over four daily windows of 400 documents, the third window's data name
    blocked by a folder until the program removes it."""
    day0 = (int(time.time()) // DAY - 6) * DAY
    datagen.insert_spread(mongo[db_name].orders, day0, day0 + 4 * DAY, 400, doc_size=256, seed=11)
    exe = build_program(tmp_path, "c_api_steps")
    dest = tmp_path / "bk"
    name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(day0 + 2 * DAY)) + "_" + \
        time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(day0 + 3 * DAY)) + ".bson"
    blocked = dest / db_name / "orders" / name
    blocked.mkdir(parents=True)
    res = subprocess.run([str(exe), ferretdb.uri, db_name, str(dest), f"@{day0}",
                          f"@{day0 + 4 * DAY}", str(blocked)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout[res.stdout.index('{"rc_plan"'):]), dest


def test_a_job_in_steps_runs_its_stopped_and_failed_tasks_again_and_ends_ok(steps_run, mongo,
                                                                          db_name):
    """job.h: ccopy_job_run_tasks() tries failed and stopped tasks again. A job stopped by its
    callback ran nothing more on the next call, and a failure that a retry fixed still made
    ccopy_job_finish() fail."""
    out, dest = steps_run
    assert out["rc_plan"] == 0
    assert out["rc_stopped"] == -16 and out["stopped_cause"] == 5
    assert "done" not in out["after_stop"]
    # the next call runs what was stopped; the blocked window fails
    assert out["rc_blocked"] == -7 and "failed" in out["after_blocked"]
    assert out["after_unblocked"] == ["done"] * 4 and out["rc_unblocked"] == 0
    assert out["rc_finish"] == 0 and out["status"] == "ok"
    assert out["windows_written"] == 4 and out["windows_failed"] == 0
    assert out["error_notes"] == 0
    bc.assert_backup_matches(dest, mongo[db_name])


def test_reading_a_window_without_a_callback_checks_its_documents_too(steps_run):
    """catalog.h: a caller that must not act on unverified data reads once with no callback:
    that read checks everything the manifest says, documents and bytes included."""
    out, _ = steps_run
    assert out["rc_read_ok"] == 0
    assert out["rc_read_wrong_count"] == -11 and "its manifest says" in out["wrong_count_message"]
    assert out["rc_read_wrong_bytes"] == -11
    assert out["rc_read_docs"] == 0 and out["docs"] > 0
    # a folder that does not exist is bad input, as catalog.h says
    assert out["rc_missing_catalog"] == -1


def test_verify_tasks_and_verdicts_read_back_as_results_h_says(steps_run, mongo, db_name):
    out, _ = steps_run
    day_counts = out["verify_task_documents"]
    assert out["rc_verify"] == 0 and sum(day_counts) == 400 and all(n > 0 for n in day_counts)
    # a caller's verdict struct of an older, smaller size gets what fits and nothing past it
    assert out["rc_small_verdict"] == 0 and out["small_differs"] == 0
    assert out["small_untouched"] == 1 and out["rc_verdict_size0"] == -1


def test_null_handles_and_output_pointers_are_einval_never_a_crash(steps_run):
    out, _ = steps_run
    r = out["null_results"]
    # options: the setters refuse NULL; the getters read it as the defaults
    assert r[:6] == [-1, -1, 1, 0, 4, 0], r
    # every job call: EINVAL, 0 or NULL
    assert r[6:23] == [0, -1, -1, -1, 0, -1, 0, -1, -1, -1, 0, -1, -1, -1, -1, 0, -1], r
    # catalog, manifest, times, windows
    assert all(x == -1 for x in r[23:34]), r
    assert r[34] == 0 and r[35:] == [-1, -1, -1], r

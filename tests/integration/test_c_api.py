"""libcosmocopy embedded in a C program: options, a job with callbacks, the JSON summary."""
import json
import os
import subprocess
import time
from pathlib import Path

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

import backupcheck as bc
import datagen
from conftest import REPO_ROOT, cosmocopy_path

DAY = 86400


def last_json_line(text: str) -> dict:
    """The program's record; libmongoc's default log handler may print lines before it."""
    return json.loads(text[text.rindex('\n{"rc"') + 1 if '\n{"rc"' in text else 0:])


def build_program(tmp_path: Path, name: str = "c_api_backup") -> Path:
    build = cosmocopy_path().parent
    sanitize = "CCOPY_SANITIZE:BOOL=ON" in (build / "CMakeCache.txt").read_text()
    exe = tmp_path / name
    cmd = ["cc", "-std=c11", "-Wall", "-Werror", str(REPO_ROOT / f"tests/integration/{name}.c"),
           "-I", str(REPO_ROOT / "engine/include"), "-L", str(build), "-lcosmocopy",
           f"-Wl,-rpath,{build}", "-o", str(exe)]
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

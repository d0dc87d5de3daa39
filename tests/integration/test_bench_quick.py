"""The benchmark harness (bench/harness.py) keeps working: its smallest scenario, backup to a
folder, with tiny sizes (300 documents of ~1 KB, 18 of ~16 KB), every candidate, into a temporary results folder. It checks that
every candidate's copy matched the source and that the report (table, plot) is made; it
judges no time (a benchmark measures, a test checks behaviour)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "bench" / "harness.py"


@pytest.mark.skipif(bool(os.environ.get("CCOPY_BIN")),
                    reason="the harness measures build/cosmocopy: CI runs it once, in the "
                           "first pass, not again in the sanitizer pass ($CCOPY_BIN)")
def test_bench_quick_folder_scenario(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "docs"
    argv = [sys.executable, str(HARNESS), "--quick", "--scenarios", "folder", "--docs", "300",
            "--doc-sizes", "1024,16384",
            "--results-dir", str(results), "--docs-dir", str(docs)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-4000:]

    [path] = results.glob("folder-*.json")
    record = json.loads(path.read_text())
    assert record["content_ok"] is True
    assert [(d["name"], d["documents"]) for d in record["datasets"]] == [("docs", 300),
                                                                           ("docs16k", 18)]
    expected = {"drain", "cosmocopy_none", "baseline_savvy_none", "baseline_usual_none"}
    if (REPO / ".tools" / "mongo-tools" / "bin" / "mongodump").exists():
        expected.add("mongodump_none")
    names = set()
    for ds in record["datasets"]:
        assert ds["expected"]["full"]["documents"] == ds["documents"]
        cands = record["result"][ds["name"]]["candidates"]
        assert expected <= set(cands), ds["name"]
        names |= set(cands)
        for name, c in cands.items():
            assert c["content_ok"], (ds["name"], name)
            [run] = c["repeats"]
            check = run["content_check"]
            assert check["ok"], (ds["name"], name, check)
            assert check["documents"] == ds["documents"], (ds["name"], name)
            assert check["bytes"] == ds["expected"]["full"]["bytes"], (ds["name"], name)
            assert c["median"]["cpu_seconds_per_gb"] > 0, (ds["name"], name)
            assert "marginal_cpu_seconds_per_gb" in c, (ds["name"], name)

    table = (docs / "latest.md").read_text()
    assert "~16 KB" in table
    for name in names:
        assert f"| `{name}` |" in table
    assert (docs / "cpu_per_gb.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--candidates", "cosmocopy"],
     "--candidates: cosmocopy not a candidate of scenario folder"),
    (["--scenarios", "folder,throttled", "--candidates", "cosmocopy_none"],
     "--candidates: cosmocopy_none not a candidate of scenario throttled"),
    (["--scenarios", "throttled", "--candidates", "cosmocopy_max_ru,"],
     "--candidates: '' not a candidate of scenario throttled"),
    (["--scenarios", "dask", "--candidates", "drain"],
     "--candidates: the scenarios given (dask) have no candidates to choose"),
    (["--scenarios", "folder,nope"], "--scenarios: unknown nope"),
    (["--docs", "0"], "--docs: must be at least 1, got 0"),
    (["--quick", "--repeat", "0"], "--repeat: must be at least 1, got 0"),
    (["--doc-sizes", "1024,0"], "--doc-sizes: must be at least 1, got 1024,0"),
])
def test_bench_bad_arguments_name_the_option_and_exit_2(tmp_path, args, message):
    """A mistyped candidate or scenario stops the harness before it starts a server or loads
    a document (it used to fail with a traceback after loading the data)."""
    p = subprocess.run([sys.executable, str(HARNESS), *args, "--results-dir",
                        str(tmp_path / "results"), "--docs-dir", str(tmp_path / "docs")],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 2, p.stderr[-2000:]
    assert message in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.skipif(bool(os.environ.get("CCOPY_BIN")),
                    reason="the harness measures build/cosmocopy: once, in the first pass")
def test_bench_quick_dask_scenario_keeps_its_records_in_the_results_dir(tmp_path):
    """The Dask scenario runs bench/dask_scale.py, which writes a record of its own: with
    --results-dir it goes there too, and bench/results gains nothing (it used to gain a
    dask_scale record whatever the harness was told)."""
    results, docs = tmp_path / "results", tmp_path / "docs"
    before = set((REPO / "bench" / "results").glob("*.json"))
    p = subprocess.run([sys.executable, str(HARNESS), "--quick", "--scenarios", "dask",
                        "--results-dir", str(results), "--docs-dir", str(docs)],
                       capture_output=True, text=True, timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-4000:]
    assert set((REPO / "bench" / "results").glob("*.json")) == before
    [harness_record] = results.glob("dask-*.json")
    [own_record] = results.glob("dask_scale-*.json")
    result = json.loads(harness_record.read_text())["result"]
    assert result["exit_code"] == 0
    rows = json.loads(own_record.read_text())["run"]["rows"]
    assert [r["workers"] for r in rows] == [1, 2]
    for r in rows:
        for kind in ("unlimited", "budget"):
            assert r[kind]["content_check"]["ok"], (r["workers"], kind, r[kind])
            assert r[kind]["documents"] == 1000, (r["workers"], kind)


def test_report_takes_the_newest_full_run_of_every_candidate(tmp_path):
    # A run of a few candidates (--candidates) answers a question about those few: the report
    # keeps the newest full run of every candidate, and takes a few only when nothing else is
    # there; a --quick record only when there is no full one.
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import harness
    finally:
        sys.path.remove(str(REPO / "bench"))

    def record(name, quick=False, candidates=None):
        (tmp_path / name).write_text(json.dumps(
            {"harness": 1, "parameters": {"quick": quick, "candidates": candidates}}))

    record("throttled-20261206T010000Z.json", quick=True)
    assert harness.latest_records(tmp_path)["throttled"][1].name == \
        "throttled-20261206T010000Z.json"
    record("throttled-20261206T020000Z.json", candidates=["cosmocopy_adaptive"])
    assert harness.latest_records(tmp_path)["throttled"][1].name == \
        "throttled-20261206T020000Z.json"
    record("throttled-20261206T030000Z.json")
    record("throttled-20261206T040000Z.json", candidates=["cosmocopy_adaptive"])
    record("throttled-20261206T050000Z.json", quick=True)
    assert harness.latest_records(tmp_path)["throttled"][1].name == \
        "throttled-20261206T030000Z.json"


def test_app_load_figures_give_both_sides_of_the_shared_budget():
    # The app_load scenario's figures from a made-up timeline: the job's share of what the
    # application left, and what the application got of what it asked for (its level x budget
    # in each second) over the same seconds, so a job that crowds it out shows.
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import throttle
    finally:
        sys.path.remove(str(REPO / "bench"))
    app = throttle.AppLoad(budget=100, loads=[0.5, 0.2], period=2.0)
    app._started = 1000.0  # levels: 0.5 in [1000, 1002), 0.2 in [1002, 1004), ...
    # the application got 40, 40, 20 and 20 RU in the 4 seconds (it asked for 50, 50, 20, 20)
    app.charges = [(1000.2 + s, ru) for s, ru in enumerate([40.0, 40.0, 20.0, 20.0])]
    # the proxy's seconds 0-3 are epoch 1000-1003; each held the application's RU and the job's
    timeline = [[s, app_ru + job_ru, 0, 0]
                for s, (app_ru, job_ru) in enumerate([(40.0, 50.0), (40.0, 60.0), (20.0, 60.0),
                                                      (20.0, 60.0)])]
    job = {"ru_charged_in_copy": 120.0 + 230.0, "copy_span_in_timeline": [0.0, 4.0],
           "timeline": timeline, "ru_lost_every_worker_at_server": 0.0}
    f = app.figures((1000.0, 1004.0), 100, job)
    assert f["app_ru_in_copy"] == 120.0
    assert f["job_ru_in_copy"] == 230.0
    assert abs(f["job_share_of_left_streaming"] - 230.0 / 280.0) < 1e-9
    assert abs(f["app_share_of_asked_streaming"] - 120.0 / 140.0) < 1e-9
    assert [row[1:] for row in f["per_second"]] == [[40.0, 50.0], [40.0, 60.0], [20.0, 60.0],
                                                    [20.0, 60.0]]

"""No leaks: a thousand short calls (plans, jobs refused or failing to connect, small backups,
reading a backup back) leave memory flat, by tracemalloc (Python objects) and RSS (the engine's
C heap too), and SWIG reports no leaked object. Run in a child process so that its RSS and its
stderr are its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from pkgtest import HOUR, PACKAGE_TREE, START

SCRIPT = textwrap.dedent("""
    import gc, json, sys, tracemalloc
    sys.path.insert(0, sys.argv[1])
    import cosmocopy as cc

    uri, db, folder, start = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    dead = "mongodb://u:pw@127.0.0.1:1/?serverSelectionTimeoutMS=20&connectTimeoutMS=20"

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def one_round(i):
        cc.plan(from_="2026-01-01", to="2026-03-01", step="1d")
        try:
            cc.backup(source=uri, db=db, to="dir:" + folder, batch_size=0)
        except cc.UsageError:
            pass
        if i % 5 == 0:
            try:
                cc.backup(source=dead, db=db, to="dir:" + folder + "/dead", retry_budget=0)
            except cc.ConnectionError:
                pass
        if i % 10 == 0:
            r = cc.backup(source=uri, db=db, to="dir:" + folder + "/%d" % (i % 3),
                          collection="tiny", from_=start, until=start + 7200, step="1h")
            assert r.ok
            for w in cc.open_backup("dir:" + folder + "/%d" % (i % 3)).windows():
                for _ in w.read():
                    pass
            with cc.Job("backup", source=uri, db=db, to="dir:" + folder + "/job",
                        collection="tiny", from_=start, until=start + 7200, step="1h") as job:
                job.plan()
                job.tasks

    for i in range(100):
        one_round(i)
    gc.collect()
    tracemalloc.start()
    before_py = tracemalloc.get_traced_memory()[0]
    before_rss = rss()
    for i in range(100, 400):
        one_round(i)
    gc.collect()
    after_py = tracemalloc.get_traced_memory()[0]
    after_rss = rss()
    print(json.dumps({"python_growth": after_py - before_py, "rss_before": before_rss,
                      "rss_growth": after_rss - before_rss}))
""")


def test_a_thousand_calls_leave_memory_flat(mongo, db_name, ferretdb, tmp_path):
    tiny = mongo[db_name].tiny
    import datagen
    datagen.insert_spread(tiny, START, START + 2 * HOUR, 20, doc_size=200, seed=3,
                          keep_ids=False)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(PACKAGE_TREE), ferretdb.uri,
                           db_name, str(tmp_path), str(START)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "memory leak" not in proc.stderr, proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    print("memory after 300 rounds:", figures)
    # 300 rounds after warming up: about 1,000 calls (300 plans, 300 refused jobs, 60 failing
    # connections, 30 backups read back, 30 planned jobs)
    assert figures["python_growth"] < 256 * 1024, figures
    assert figures["rss_growth"] < 4 * 1024 * 1024, figures

"""The `cosmocopy` command line: help, usage errors, and passwords that never
show."""

from __future__ import annotations

import array
import fcntl
import json
import os
import re
import signal
import subprocess
import termios
import time

import pytest

import clirun

SECRET = "SuperSecret123"

HELP_OPTIONS = {
    "plan": ["--from", "--to", "--step", "--json"],
    "backup": ["--source", "--db", "--collection", "--to", "--full", "--incremental", "--from",
               "--step", "--settle-lag", "--batch-size", "--parallel", "--format", "--compress",
               "--json", "--quiet", "--retry-budget", "--server-timeout-ms"],
    "list": ["--from", "--db", "--collection", "--json"],
}


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"]])
def test_top_level_help_lists_the_commands(args):
    res = clirun.run(*args)
    assert res.rc == 0, res.explain()
    for command in ("plan", "backup", "list"):
        assert command in res.stdout, res.explain()


def test_no_command_is_a_usage_error():
    res = clirun.run()
    assert res.rc == 2, res.explain()
    assert "backup" in res.output


@pytest.mark.parametrize("command", sorted(HELP_OPTIONS))
def test_every_command_has_help_naming_its_options(command):
    res = clirun.run(command, "--help")
    assert res.rc == 0, res.explain()
    for option in HELP_OPTIONS[command]:
        assert option in res.stdout, f"{command} --help does not mention {option}"


def test_help_command_gives_that_commands_help():
    res = clirun.run("help", "backup")
    assert res.rc == 0, res.explain()
    assert res.stdout == clirun.run("backup", "--help").stdout


def test_backup_help_says_what_each_mode_covers():
    text = clirun.run("backup", "--help").stdout
    assert "not an ObjectId" in text
    assert "settle" in text and "10m" in text


def test_unknown_command_is_a_usage_error_naming_it():
    res = clirun.run("bogus")
    assert res.rc == 2, res.explain()
    assert "bogus" in res.stderr


@pytest.mark.parametrize("command", sorted(HELP_OPTIONS))
def test_unknown_option_is_a_usage_error_naming_it(command):
    res = clirun.run(command, "--no-such-option")
    assert res.rc == 2, res.explain()
    assert "--no-such-option" in res.stderr


BAD_BACKUP = [
    (["--db", "x", "--to", "dir:{tmp}/bk"], "--source"),
    (["--source", "mongodb://127.0.0.1:1/", "--to", "dir:{tmp}/bk"], "--db"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x"], "--to"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--format", "xml"], "xml"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--compress", "lz4"], "lz4"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--parallel", "0"], "parallel"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--batch-size", "zero"], "zero"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--step", "0"], "step"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--settle-lag", "soon"], "soon"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], "2026-01-02T00:00:00Z"),
    (["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
      "--full", "--incremental"], "--incremental"),
]


@pytest.mark.parametrize("args,named", BAD_BACKUP, ids=[n for _, n in BAD_BACKUP])
def test_bad_backup_usage_exits_2_naming_the_problem(tmp_path, args, named):
    """Refused before anything is tried: nothing listens on port 1, so a
    usage error found only after connecting shows up as exit 1."""
    res = clirun.run("backup", *[a.format(tmp=tmp_path) for a in args],
                     "--server-timeout-ms", "2000", timeout=30)
    assert res.rc == 2, res.explain()
    assert named in res.stderr, f"message does not name {named!r}:\n{res.stderr}"
    assert not list(tmp_path.rglob("*.manifest.json"))


# ---------------------------------------------------------------- secrets


def _assert_masked(res: clirun.Result):
    assert SECRET not in res.stdout, f"password printed on stdout:\n{res.stdout}"
    assert SECRET not in res.stderr, f"password printed on stderr:\n{res.stderr}"


@pytest.mark.parametrize("json_summary", [True, False], ids=["json", "text"])
def test_password_is_masked_when_the_host_does_not_answer(tmp_path, json_summary):
    port = clirun.closed_port()
    res = clirun.backup(f"mongodb://user:{SECRET}@127.0.0.1:{port}/", "shop", tmp_path / "bk",
                        "--server-timeout-ms", "2000", json_summary=json_summary, timeout=60)
    assert res.rc == 1, res.explain()
    _assert_masked(res)
    assert f"127.0.0.1:{port}" in res.stderr, res.explain()
    if json_summary:
        assert f"127.0.0.1:{port}" in res.summary["error"]["message"]


@pytest.mark.parametrize("uri", [
    f"mongodb://user:{SECRET}@127.0.0.1:99999/",
    f"mongodb://user:{SECRET}@/",
    f"mongodb://user:{SECRET}@127.0.0.1:1/?connectTimeoutMS=abc",
    f"mongodb//user:{SECRET}@127.0.0.1:1/",
])
def test_password_is_masked_in_a_malformed_connection_string(tmp_path, uri):
    res = clirun.backup(uri, "shop", tmp_path / "bk", timeout=30)
    assert res.rc == 2, res.explain()
    _assert_masked(res)
    assert "malformed" in res.stderr, res.explain()


def test_password_is_masked_in_the_process_title(tmp_path):
    """`ps` shows every process's command line to every local user."""
    with clirun.silent_listener() as port:
        job = clirun.start_backup(f"mongodb://user:{SECRET}@127.0.0.1:{port}/", "shop",
                                  tmp_path / "bk", "--server-timeout-ms", "3000")
        try:
            time.sleep(1.0)
            assert job.running(), job.wait(10).explain()
            with open(f"/proc/{job.pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            assert SECRET not in cmdline, f"ps shows the password: {cmdline}"
        finally:
            job.kill()


# ---------------------------------------------------------------- list, signals

DAY = 86400
HOUR = 3600


def _small_collection(mongo, db_name, start, hours=12, count=120):
    import datagen
    coll = mongo[db_name].orders
    datagen.insert_spread(coll, start, start + hours * HOUR, count, doc_size=200, seed=7,
                          keep_ids=False)
    return coll


def test_list_reads_a_backup_through_a_container_sas_url(ferretdb, mongo, db_name, azurite,
                                                         blob_container):
    """The same SAS URL works for backup and for list (list used to send the masked sig=****
    and got 403)."""
    import backupcheck as bc
    start = (int(time.time()) // DAY - 3) * DAY
    _small_collection(mongo, db_name, start)
    url = azurite.sas_url(blob_container.container_name, "viasas")
    sig = url.split("sig=")[1].split("&")[0]
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", db_name, "--to", url,
                     "--from", bc.rfc3339(start), "--to", bc.rfc3339(start + 12 * HOUR),
                     "--step", "4h", "--parallel", "3", "--json")
    assert res.rc == 0, res.explain().replace(sig, "****")
    listed = clirun.run("list", "--from", url, "--json")
    assert listed.rc == 0, listed.explain().replace(sig, "****")
    windows = listed.summary["windows"]
    assert [(w["window"]["start_epoch"], w["window"]["end_epoch"]) for w in windows] == \
        [(start + k * 4 * HOUR, start + (k + 1) * 4 * HOUR) for k in range(3)]
    assert sum(w["documents"] for w in windows) == 120
    assert sig not in listed.stdout + listed.stderr
    text = clirun.run("list", "--from", url)
    assert text.rc == 0, text.explain().replace(sig, "****")
    assert "3 windows, 120 documents" in text.stdout, text.explain().replace(sig, "****")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_after_the_job_ends_the_command(ferretdb, mongo, db_name, tmp_path, signum):
    """Once the job is over, SIGTERM and SIGINT have their default effect: a command blocked
    writing its summary into a pipe nobody reads ends when told to (it used to keep the job's
    handler, which ignored them). The pipe being full proves the job is over: the summary is
    printed only after it."""
    import backupcheck as bc
    start = (int(time.time()) // DAY - 40) * DAY
    _small_collection(mongo, db_name, start, hours=30 * 24, count=60)
    job = clirun.Background("backup", "--source", ferretdb.uri, "--db", db_name,
                            "--to", f"dir:{tmp_path}/bk", "--from", bc.rfc3339(start),
                            "--to", bc.rfc3339(start + 30 * DAY), "--step", "1h", "--json")
    try:
        capacity = fcntl.fcntl(job.proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)

        def pipe_full():
            if not job.running():
                return "exited"
            buffered = array.array("i", [0])
            fcntl.ioctl(job.proc.stdout.fileno(), termios.FIONREAD, buffered)
            return buffered[0] >= capacity
        state = clirun.wait_for(pipe_full, 120, interval=0.05, what="the summary to fill the pipe")
        assert state is True, "the summary fit in the pipe: make it larger"
        time.sleep(0.2)
        os.kill(job.pid, signum)
        try:
            job.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{signum.name} was ignored after the job ended")
        assert job.proc.returncode == -signum
    finally:
        job.kill()


def test_a_date_alone_is_midnight_utc():
    res = clirun.run("plan", "--from", "2026-01-01", "--to", "2026-01-02", "--step", "12h", "--json")
    assert res.rc == 0, res.explain()
    assert [(w["start"], w["end"]) for w in res.summary["windows"]] == [
        ("2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z"),
        ("2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z")]
    bad = clirun.run("plan", "--from", "2026-02-30", "--to", "2026-03-01")
    assert bad.rc == 2, bad.explain()
    assert "day 30 is out of range for 2026-02" in bad.stderr, bad.explain()


# ---------------------------------------------------------------- what the command prints


def test_counts_of_one_are_singular(ferretdb, mongo, db_name, tmp_path):
    import backupcheck as bc
    day = (int(time.time()) // DAY - 3) * DAY
    coll = mongo[db_name].orders
    import datagen
    coll.insert_one({"_id": datagen.make_oid(day + HOUR, 1), "n": 1})
    coll.insert_one({"_id": "not-an-objectid", "n": 2})
    rng = ["--from", bc.rfc3339(day), "--to", bc.rfc3339(day + DAY), "--step", "1d"]
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", db_name, "--to",
                     f"dir:{tmp_path}/bk", *rng, "--parallel", "1")
    assert res.rc == 0, res.explain()
    assert "backup complete: 1 window written, 0 already complete, 0 failed\n" in res.stdout, \
        res.explain()
    assert "\n  1 document, " in res.stdout and "0 retries" in res.stdout, res.explain()
    listed = clirun.run("list", "--from", f"dir:{tmp_path}/bk")
    assert listed.rc == 0, listed.explain()
    assert listed.stdout.splitlines()[-1].startswith("1 window, 1 document, "), listed.explain()
    checked = clirun.run("verify", "--source", ferretdb.uri, "--db", db_name, "--backup",
                         f"dir:{tmp_path}/bk", *rng)
    assert checked.rc == 0, checked.explain()
    assert "verified 1 window: it matches" in checked.stdout, checked.explain()
    inc = clirun.run("backup", "--source", ferretdb.uri, "--db", db_name, "--to",
                     f"dir:{tmp_path}/inc", "--incremental", "--step", "1d")
    assert inc.rc == 0, inc.explain()
    assert (f"{db_name}.orders: 1 document has an _id that is not an ObjectId; incremental runs "
            "cannot see it (a full run copies it)") in inc.stderr, inc.explain()


@pytest.mark.parametrize("command", ["restore", "list", "verify"])
def test_a_backup_folder_that_does_not_exist_is_bad_input(tmp_path, command):
    """Exit 2, the folder named, and no statistics about work that never started."""
    missing = tmp_path / "no-such-backup"
    args = {"restore": ["--from", f"dir:{missing}", "--to", "mongodb://127.0.0.1:1/"],
            "list": ["--from", f"dir:{missing}"],
            "verify": ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--backup",
                       f"dir:{missing}"]}[command]
    res = clirun.run(command, *args, "--server-timeout-ms", "1000") if command != "list" \
        else clirun.run(command, *args)
    assert res.rc == 2, res.explain()
    flag = "--backup" if command == "verify" else "--from"
    assert res.stderr == (f"cosmocopy {command}: error: {flag}: backup folder {missing} does not "
                          "exist\n"), res.explain()
    assert res.stdout == "", res.explain()


def test_a_backup_that_holds_nothing_of_what_is_named_is_bad_input(ferretdb, mongo, db_name,
                                                                   tmp_path):
    """README: exit 2 for a backup folder that holds no backup, or none of the database named."""
    empty = tmp_path / "empty"
    empty.mkdir()
    res = clirun.run("list", "--from", f"dir:{empty}")
    assert res.rc == 2 and res.stdout == "", res.explain()
    assert res.stderr == f"cosmocopy list: error: --from: dir:{empty} holds no backup\n", \
        res.explain()
    _small_collection(mongo, db_name, int(time.time()) // DAY * DAY - 3 * DAY)
    bk = tmp_path / "bk"
    assert clirun.backup(ferretdb.uri, db_name, bk, "--full").rc == 0
    assert clirun.run("list", "--from", f"dir:{bk}", "--db", db_name).rc == 0
    res = clirun.run("list", "--from", f"dir:{bk}", "--db", "nosuch", "--json")
    assert res.rc == 2, res.explain()  # --json: the failure summary, no listing
    failed = json.loads(res.stdout)
    assert failed["status"] == "failed" and "holds no backup of database nosuch" in \
        failed["error"]["message"], res.explain()
    assert f"--db: dir:{bk} holds no backup of database nosuch" in res.stderr, res.explain()
    res = clirun.run("list", "--from", f"dir:{bk}", "--collection", "nosuch")
    assert res.rc == 2 and f"--collection: dir:{bk} holds no backup of collection nosuch" in \
        res.stderr, res.explain()
    for command, args in (("verify", ["--source", ferretdb.uri, "--db", db_name, "--backup",
                                      f"dir:{empty}"]),
                          ("restore", ["--from", f"dir:{bk}", "--to", ferretdb.uri, "--db",
                                       db_name, "--collection", "nosuch", "--to-db",
                                       db_name + "_r"])):
        res = clirun.run(command, *args)
        assert res.rc == 2, res.explain()
        assert "holds no completed window of" in res.stderr, res.explain()
    assert f"--collection: dir:{bk} holds no completed window of {db_name}.nosuch" in res.stderr
    assert db_name + "_r" not in mongo.list_database_names()


def test_a_job_that_fails_before_any_work_prints_only_the_error(tmp_path):
    port = clirun.closed_port()
    res = clirun.run("backup", "--source", f"mongodb://127.0.0.1:{port}/", "--db", "shop",
                     "--to", f"dir:{tmp_path}/bk", "--server-timeout-ms", "1000", timeout=60)
    assert res.rc == 1, res.explain()
    assert res.stdout == "", res.explain()
    assert "written to" not in res.output
    assert res.stderr.startswith("cosmocopy backup: error: ") and f"127.0.0.1:{port}" in res.stderr
    # --json still prints its summary, with the status and the error
    js = clirun.run("backup", "--source", f"mongodb://127.0.0.1:{port}/", "--db", "shop",
                    "--to", f"dir:{tmp_path}/bk", "--server-timeout-ms", "1000", "--json",
                    timeout=60)
    assert js.rc == 1, js.explain()
    assert js.summary["status"] != "ok" and f"127.0.0.1:{port}" in js.summary["error"]["message"]


@pytest.mark.parametrize("command,args,words", [
    ("backup", ["--source", f"mongodb://u:{SECRET}@127.0.0.1:1/", "--db", "x", "--to", "/tmp/x"],
     "for a folder write dir:/tmp/x"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}", "--bogus"],
     'unknown option "--bogus"'),
    ("restore", ["--from", "dir:{tmp}", "--to"], "--to needs a value (found the flag --json after it)"),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                   "mongodb://127.0.0.1:2/", "--full", "--incremental"], "choose one of"),
], ids=["bare-path", "unknown-option", "missing-value", "two-modes"])
def test_a_usage_error_prints_the_json_summary_when_asked(tmp_path, command, args, words):
    """README: a command that fails before any work prints only its error, and the --json
    summary when asked: every usage error, not only a refused option value."""
    res = clirun.run(command, *[a.format(tmp=tmp_path) for a in args], "--json", timeout=30)
    assert res.rc == 2, res.explain()
    summary = json.loads(res.stdout)
    assert summary["status"] == "failed" and summary["command"] == command, res.explain()
    assert summary["error"]["code"] == "EINVAL" and words in summary["error"]["message"]
    assert words in res.stderr and SECRET not in res.output, res.explain()


@pytest.mark.parametrize("command,args,code,words", [
    ("list", ["--from", "dir:{tmp}/missing"], "EINVAL", "does not exist"),
    ("list", ["--from", "dir:{tmp}"], "EINVAL", "holds no backup"),
    ("list", ["--db", "--from", "dir:{tmp}"], "EINVAL",
     "--db needs a value (found the flag --from after it)"),
    ("list", ["--from", f"https://acct.blob.core.windows.net/Bad_Name?sv=1&sig={SECRET}"], "EINVAL",
     'container name "Bad_Name"'),
    ("plan", ["--from", "2026-01-01"], "EINVAL", "--from and --to are required"),
    ("plan", ["--from", "2026-01-01", "--to", "2026-01-02", "--step", "0"], "EINVAL",
     "--step: invalid step 0s"),
    ("plan", ["--from", "yesterday", "--to", "now"], "EINVAL", '--from: invalid time "yesterday"'),
], ids=["list-missing", "list-empty", "list-missing-value", "list-bad-container", "plan-no-to",
        "plan-step-0", "plan-bad-time"])
def test_list_and_plan_print_the_json_failure_when_asked(tmp_path, command, args, code, words):
    """README: a command that fails before any work prints its error and, with --json, the
    failure summary on stdout: list and plan as the job commands, once, secrets masked."""
    res = clirun.run(command, *[a.format(tmp=tmp_path) for a in args], "--json", timeout=30)
    assert res.rc == 2, res.explain()
    summary = json.loads(res.stdout)
    assert summary["status"] == "failed" and summary["command"] == command, res.explain()
    assert summary["error"]["code"] == code and words in summary["error"]["message"], res.explain()
    assert words in res.stderr and SECRET not in res.output, res.explain()
    # without --json, stdout stays empty
    res = clirun.run(command, *[a.format(tmp=tmp_path) for a in args], timeout=30)
    assert res.rc == 2 and res.stdout == "" and words in res.stderr, res.explain()


def test_a_restore_that_fails_before_writing_says_nothing_was_restored(ferretdb, mongo, db_name,
                                                                        tmp_path):
    """The backup is fine, the target does not answer: only the error, no "restored to"."""
    import backupcheck as bc
    import datagen
    day = (int(time.time()) // DAY - 3) * DAY
    datagen.insert_spread(mongo[db_name].orders, day, day + 4 * HOUR, 20, doc_size=100, seed=3,
                          keep_ids=False)
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", db_name, "--to",
                     f"dir:{tmp_path}/bk", "--from", bc.rfc3339(day), "--to",
                     bc.rfc3339(day + 4 * HOUR))
    assert res.rc == 0, res.explain()
    port = clirun.closed_port()
    res = clirun.run("restore", "--from", f"dir:{tmp_path}/bk", "--to",
                     f"mongodb://127.0.0.1:{port}/", "--server-timeout-ms", "1000", timeout=60)
    assert res.rc == 1, res.explain()
    assert "restored to" not in res.stdout, res.explain()


@pytest.mark.parametrize("flag", ["--source", "--target"])
def test_an_unknown_auth_mechanism_is_bad_input(flag):
    """libmongoc takes any authMechanism and fails only when it authenticates: found at once."""
    uri = f"mongodb://user:{SECRET}@127.0.0.1:{clirun.closed_port()}/?authMechanism=SCRAM-SHA-257"
    other = "--target" if flag == "--source" else "--source"
    res = clirun.run("replicate", flag, uri, other, "mongodb://127.0.0.1:1/", "--db", "shop",
                     "--server-timeout-ms", "1000", timeout=60)
    assert res.rc == 2, res.explain()
    assert 'unknown authMechanism "SCRAM-SHA-257"' in res.stderr, res.explain()
    _assert_masked(res)


# ---------------------------------------------------------------- messages name the user's flags

INTERNAL = re.compile(r"(?<!-)\b(option \w+|sink|until|target_db|target_collection|write_mode|source_db|"
                      r"source_collection|mode range)\b")

FLAG_MESSAGES = [
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "/some/folder"],
     '--to "/some/folder" is neither a destination (dir:PATH, azblob://CONTAINER[/PREFIX] or a '
     'container URL with a SAS) nor a time (the end of a --from range); for a folder write '
     'dir:/some/folder'),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--from", "-2d"], "--from T (the start of a range) needs --to T (its end)"),
    # the end of a range alone, named as typed
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--until", "-1h"], "--until T (the end of a range) needs --from T"),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                   "mongodb://127.0.0.1:2/", "--to", "-1h"], "--to T (the end of a range) needs --from T"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x"],
     "--to is required (dir:PATH, azblob://CONTAINER[/PREFIX] or a container URL with a SAS)"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--from", "2026-01-02", "--to", "2026-01-01"],
     "range from 2026-01-02 to 2026-01-01 is empty: --from must be before --to"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--from", "-2d", "--to", "yesterday"], '--to "yesterday" is neither a destination'),
    # a value meant as a time says what is wrong with it, as --until does
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--from", "2026-01-01", "--to", "2026-13-01"],
     '--to: invalid time "2026-13-01": month 13 is out of range'),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--from", "-2d", "--to", "2106-02-07T06:28:16Z"],
     '--to: invalid time "2106-02-07T06:28:16Z": at or after 2106-02-07T06:28:16Z'),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--from", "-2d", "--to", "-4x"], '--to: invalid time "-4x": unknown unit "x"'),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                   "mongodb://127.0.0.1:2/", "--from", "-2d", "--to", "soon"],
     '--to: invalid time "soon"'),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                   "mongodb://127.0.0.1:2/", "--target-collection", "c", "--collection", "a",
                   "--collection", "b"], "--target-collection needs exactly one --collection, not 2"),
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--to-collection", "c",
                 "--collection", "a", "--collection", "b"],
     "--to-collection needs exactly one --collection, not 2"),
    # --target-collection is restore's alias of --to-collection: messages use its own word
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--target-collection",
                 "c", "--collection", "a", "--collection", "b"],
     "--to-collection needs exactly one --collection, not 2"),
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--source-db", "x"],
     'unknown option "--source-db"'),
    # a forgotten value: the next flag is not taken for it
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "--to", "dir:{tmp}/bk"],
     "--db needs a value (found the flag --to after it)"),
    ("restore", ["--from", "dir:{tmp}", "--to-db", "--json", "--to", "mongodb://127.0.0.1:1/"],
     "--to-db needs a value (found the flag --json after it)"),
    # a connection string after --to, where replicate and verify take a time
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to",
                   "mongodb://127.0.0.1:2/"], "replicate takes the target server with --target URI"),
    ("verify", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to",
                "mongodb://127.0.0.1:2/"], "verify takes the replica's server with --backup URI"),
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--mode", "merge"],
     '--mode: "merge" is not one of upsert|insert'),
    ("restore", ["--from", "dir:{tmp}"], "--to is required (a connection string)"),
    # the target database's catalog is no place for documents
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                   "mongodb://127.0.0.1:2/", "--target-collection", "cosmocopy"],
     "--target-collection: cosmocopy is the target database's catalog of completed windows"),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                   "mongodb://127.0.0.1:2/", "--collection", "cosmocopy"],
     "--collection: cosmocopy would be written into the target database's catalog"),
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--collection", "a",
                 "--to-collection", "cosmocopy"],
     "--to-collection: cosmocopy is the target database's catalog"),
    ("verify", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--backup", "dir:{tmp}",
                "--collection", "a", "--source-collection", "$x"],
     "--source-collection: collection name \"$x\" holds '$'"),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--collection", "c",
                   "--target", "mongodb://127.0.0.1:2/", "--target-collection", ".x"],
     "--target-collection: collection name \".x\" starts with '.', which MongoDB does not allow"),
    # CA files are read before anything is contacted, and named by their own flag
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--tls-ca-file", "/nonexistent/ca.pem"],
     "--tls-ca-file: CA file /nonexistent/ca.pem cannot be read: No such file or directory"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--https-ca-file", "{tmp}"], "is a folder, not a PEM file of CA certificates"),
    # a file that holds no certificate failed only once the server timeout ran out, as a server
    # that "cannot be reached"
    ("backup", ["--source", "mongodb://127.0.0.1:1/?tls=true", "--db", "x", "--to",
                "dir:{tmp}/bk", "--tls-ca-file", "/etc/passwd"],
     "--tls-ca-file: /etc/passwd holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)"),
    ("verify", ["--source", "mongodb://127.0.0.1:1/", "--db", "x"],
     "--backup is required: a backup (dir:PATH, azblob://CONTAINER[/PREFIX] or a container URL "
     "with a SAS) or a replica (mongodb://...)"),
    ("verify", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--backup", "dir:{tmp}",
                "--source-collection", "y"], "--source-collection needs exactly one --collection, not 0"),
    # a whole number too large for 64 bits is still a whole number: it is out of range
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--batch-size", "9999999999999999999"],
     "--batch-size: 9999999999999999999 is above the maximum 100000"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:{tmp}/bk",
                "--parallel", "-99999999999999999999"],
     "--parallel: -99999999999999999999 is below the minimum 1"),
    ("restore", ["--from", "/backups/shop", "--to", "mongodb://127.0.0.1:1/"],
     'unsupported destination "/backups/shop" (a folder is written dir:/backups/shop)'),
    # MongoDB allows at most 255 bytes for "db.collection"
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--db", "shop", "--to", "dir:{tmp}/bk",
                "--collection", "c" * 300],
     "--collection: collection name \"" + "c" * 40 + "...\" is 300 bytes long: with database "
     "shop the namespace is 305 bytes; MongoDB allows at most 255"),
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--db", "shop",
                 "--collection", "a", "--to-collection", "c" * 251],
     "--to-collection: collection name"),
]


@pytest.mark.parametrize("command,args,message", [
    ("list", ["--from", "dir:{tmp}", "--db", "--json"], "--db needs a value (found the flag --json after it)"),
    ("list", ["--from", "--json"], "--from needs a value (found the flag --json after it)"),
    ("list", ["--from", "dir:{tmp}", "--collection", "--retry-budget", "2"],
     "--collection needs a value (found the flag --retry-budget after it)"),
    ("plan", ["--from", "--to", "@100"], "--from needs a value (found the flag --to after it)"),
    ("plan", ["--from", "@0", "--to", "--json"], "--to needs a value (found the flag --json after it)"),
    ("plan", ["--from", "@0", "--to", "@100", "--step", "--json"],
     "--step needs a value (found the flag --json after it)"),
    ("plan", ["--from", "@0", "--to", "@100", "--step", "0"], "--step: invalid step 0s: must be positive"),
], ids=["list-db", "list-from", "list-collection", "plan-from", "plan-to", "plan-step",
        "plan-step-0"])
def test_list_and_plan_refuse_a_missing_value_naming_the_flag(tmp_path, command, args, message):
    res = clirun.run(command, *[a.format(tmp=tmp_path) for a in args], timeout=30)
    assert res.rc == 2, res.explain()
    assert message in res.stderr.splitlines()[0], res.explain()
    if "--json" in args:  # the failure summary, as for every usage error
        assert json.loads(res.stdout)["error"]["message"] == message, res.explain()
    else:
        assert res.stdout == "", res.explain()


def test_a_flag_given_twice_takes_its_last_value_even_after_a_bad_one(ferretdb, mongo, db_name,
                                                                     tmp_path):
    """README: a flag given twice takes its last value, so a script can append overrides; an
    earlier value is not even checked. A bad last value is still bad usage."""
    mongo[db_name].orders.insert_many([{"n": i} for i in range(30)])
    time.sleep(1.1)
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk", "--full", "--full",
                        "--settle-lag", "5d", "--settle-lag", "0s", "--parallel", "0",
                        "--parallel", "2", "--compress", "lz4", "--compress", "gzip",
                        "--step", "0s", "--step", "1d", "--format", "xml", "--format", "jsonl")
    assert res.rc == 0, res.explain()
    assert res.summary["documents"] == 30
    names = [p.name for p in (tmp_path / "bk" / db_name / "orders").iterdir()]
    assert any(n.endswith(".jsonl.gz") for n in names), names
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk2", "--parallel", "2",
                        "--parallel", "0", json_summary=False)
    assert res.rc == 2 and "--parallel: 0 is below the minimum 1" in res.stderr, res.explain()
    res = clirun.backup(ferretdb.uri, db_name, tmp_path / "bk2", "--full", "--incremental",
                        json_summary=False)
    assert res.rc == 2 and "choose one of" in res.stderr, res.explain()


@pytest.mark.parametrize("args,message", [
    (["--from", "2026-01-01", "--to", "2026-01-02", "--step", "abc"], '--step: invalid duration "abc"'),
    (["--from", "2026-13-01", "--to", "2026-01-02"], '--from: invalid time "2026-13-01"'),
    (["--from", "2026-01-01", "--to", "soon"], '--to: invalid time "soon"'),
    (["--from", "2026-01-01", "--to", "2026-01-02", "--step", "100000w"],
     "--step: 100000w is above the maximum 4294967296s"),
    (["--from", "-2h", "--to", "-4h"], "range from -2h to -4h is empty: --from must be before --to"),
], ids=["step", "from", "to", "step-too-long", "reversed"])
def test_plan_names_the_flag_of_a_bad_value(args, message):
    res = clirun.run("plan", *args, timeout=30)
    assert res.rc == 2, res.explain()
    assert res.stderr.startswith(f"cosmocopy plan: error: {message}"), res.explain()


@pytest.mark.parametrize("command,args,message", FLAG_MESSAGES,
                         ids=[f"{c}-{m[:30]}" for c, _, m in FLAG_MESSAGES])
def test_messages_name_the_flags_of_the_command(tmp_path, command, args, message):
    res = clirun.run(command, *[a.format(tmp=tmp_path) for a in args], "--server-timeout-ms",
                     "1000", timeout=30)
    assert res.rc == 2, res.explain()
    first = res.stderr.splitlines()[0]
    assert message in first, res.explain()
    assert not INTERNAL.search(first), f"an internal option name in: {first}"


@pytest.mark.parametrize("command,args,flag", [
    ("verify", ["--source", "mongodb//127.0.0.1:1/", "--db", "x", "--backup", "dir:{tmp}"],
     "--source"),
    ("verify", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--backup",
                f"mongodb://user:{SECRET}@"], "--backup"),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                   f"mongodb://user:{SECRET}@"], "--target"),
], ids=["verify-source", "verify-replica", "replicate-target"])
def test_a_malformed_connection_string_names_its_flag(tmp_path, command, args, flag):
    res = clirun.run(command, *[a.format(tmp=tmp_path) for a in args])
    assert res.rc == 2, res.explain()
    assert res.stderr.startswith(f"cosmocopy {command}: error: {flag}: malformed connection string"), \
        res.explain()
    _assert_masked(res)


@pytest.mark.parametrize("password", [f"{SECRET}:x", f"{SECRET}@x", f"x@{SECRET}", f"{SECRET}%zz"],
                         ids=["colon", "at", "at-first", "bad-escape"])
@pytest.mark.parametrize("command,flag", [("backup", "--source"), ("replicate", "--target"),
                                          ("verify", "--backup")])
def test_a_password_with_unescaped_characters_is_bad_input_and_never_shown(tmp_path, password,
                                                                          command, flag):
    """libmongoc quotes such a password in its message, and one holding an '@' made the rest
    of it a host name that the error named ("cannot reach x@127.0.0.1")."""
    uri = f"mongodb://user:{password}@127.0.0.1:{clirun.closed_port()}/"
    good = f"mongodb://127.0.0.1:{clirun.closed_port()}/"
    args = {"backup": ["--source", uri, "--db", "x", "--to", f"dir:{tmp_path / 'bk'}"],
            "replicate": ["--source", good, "--db", "x", "--target", uri],
            "verify": ["--source", good, "--db", "x", "--backup", uri]}[command]
    for extra in ([], ["--json"]):
        res = clirun.run(command, *args, *extra, "--server-timeout-ms", "500", timeout=60)
        assert res.rc == 2, res.explain()
        assert f"{flag}: malformed connection string" in res.stderr + res.stdout, res.explain()
        assert "percent-encode" in res.stderr + res.stdout, res.explain()
        for part in {SECRET, *password.replace("%", "@").replace(":", "@").split("@")} - {"x", "", "zz"}:
            assert part not in res.stdout + res.stderr, res.explain()
            assert part.lower() not in (res.stdout + res.stderr).lower(), res.explain()


def test_a_connection_string_problem_that_is_not_the_password_keeps_its_own_message(tmp_path):
    """Only a message about how the password is written is replaced (it quoted it)."""
    uri = f"mongodb://user:{SECRET}@127.0.0.1:1/?authMechanism=MONGODB-X509"
    res = clirun.run("backup", "--source", uri, "--db", "x", "--to", f"dir:{tmp_path}", timeout=30)
    assert res.rc == 2, res.explain()
    assert "MONGODB-X509' authentication mechanism does not accept a password" in res.stderr, \
        res.explain()
    _assert_masked(res)


@pytest.mark.parametrize("command,args,flag,name", [
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--to-db"], "--to-db",
     "bad.name"),
    ("restore", ["--from", "dir:{tmp}", "--to", "mongodb://127.0.0.1:1/", "--to-db"], "--to-db",
     "a b"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--to", "dir:{tmp}", "--db"], "--db",
     "a$b"),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--to", "dir:{tmp}", "--db"], "--db",
     "x" * 64),
    ("backup", ["--source", "mongodb://127.0.0.1:1/", "--to", "dir:{tmp}", "--db", "shop",
                "--collection"], "--collection", "or$ders"),
    ("replicate", ["--source", "mongodb://127.0.0.1:1/", "--db", "shop", "--target",
                   "mongodb://127.0.0.1:1/", "--target-db"], "--target-db", 'say"what'),
], ids=["restore-dot", "restore-blank", "backup-dollar", "backup-64", "collection-dollar",
        "replicate-quote"])
def test_a_name_mongodb_refuses_is_bad_input_before_any_server_is_asked(tmp_path, command, args,
                                                                        flag, name):
    """A restore into "bad.name" failed every window at the server (exit 1), and reported
    success with no window to restore."""
    res = clirun.run(command, *[a.format(tmp=tmp_path) for a in args], name, timeout=30)
    assert res.rc == 2, res.explain()
    assert res.stderr.startswith(f"cosmocopy {command}: error: {flag}: "), res.explain()
    assert "MongoDB" in res.stderr and name in res.stderr, res.explain()


@pytest.mark.parametrize("command", ["list", "restore", "backup"])
def test_a_sas_url_without_its_signature_is_bad_input(azurite, blob_container, command):
    """A SAS URL cut short (no sig parameter) is refused at once, not sent to be refused (403)."""
    url = azurite.sas_url(blob_container.container_name, "p")
    cut = "&".join(part for part in url.split("&") if not part.startswith("sig="))
    assert "sig=" not in cut
    args = {"list": ["--from", cut],
            "restore": ["--from", cut, "--to", "mongodb://127.0.0.1:1/"],
            "backup": ["--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", cut]}[command]
    res = clirun.run(command, *args, "--server-timeout-ms", "1000") if command != "list" \
        else clirun.run(command, *args)
    assert res.rc == 2, res.explain()
    assert "the SAS of the container URL has no signature (no sig parameter)" in res.stderr, \
        res.explain()


@pytest.mark.parametrize("command", ["list", "restore"])
def test_a_backup_container_that_does_not_exist_is_bad_input(azurite, command):
    """Like a folder that does not exist: exit 2 naming the container, nothing else printed."""
    name = f"none-{int(time.time() * 1000) % 10**9}"
    args = {"list": ["--from", f"azblob://{name}/p"],
            "restore": ["--from", f"azblob://{name}/p", "--to", "mongodb://127.0.0.1:1/"]}[command]
    res = clirun.run(command, *args, "--blob-connection-string", azurite.connection_string)
    assert res.rc == 2, res.explain()
    assert f"container {name} does not exist in account devstoreaccount1" in res.stderr, res.explain()
    assert res.stdout == "", res.explain()


def test_an_option_the_driver_does_not_know_is_named_in_a_warning(tmp_path):
    """A misspelt URI option (retrywrite) is ignored by the driver: the command says so."""
    res = clirun.run("backup", "--source",
                     f"mongodb://user:{SECRET}@127.0.0.1:{clirun.closed_port()}/?retrywrite=false",
                     "--db", "x", "--to", f"dir:{tmp_path}/bk", "--server-timeout-ms", "1000",
                     timeout=60)
    assert res.rc == 1, res.explain()
    assert ('cosmocopy: warning: connection string: Unsupported URI option "retrywrite" (ignored)\n'
            in res.stderr), res.explain()
    assert res.stderr.count("retrywrite") == 1, res.explain()
    _assert_masked(res)


def test_json_says_status_and_error_when_the_job_cannot_be_made(tmp_path):
    res = clirun.run("backup", "--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to",
                     f"dir:{tmp_path}/bk", "--from", "2026-01-02", "--to", "2026-01-01", "--json")
    assert res.rc == 2, res.explain()
    summary = res.summary
    assert summary["status"] == "failed" and summary["command"] == "backup"
    assert summary["error"]["code"] == "EINVAL"
    assert "range from 2026-01-02 to 2026-01-01 is empty" in summary["error"]["message"]
    assert "--from must be before --to" in res.stderr, res.explain()


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("flags,says", [
    (["--compress", "zstd", "--compress-level", "23"], "--compress-level"),
    (["--parallel", "abc"], "--parallel"),
])
def test_json_answers_a_value_its_option_refuses_as_it_answers_one_the_job_refuses(
        tmp_path, where, flags, says):
    # gzip level 12 (refused when the job is made) gave the JSON answer, zstd level 23 and a
    # --parallel that is not a number (refused as the flag is read) gave nothing on stdout, so a
    # script reading the --json answer had none; --json may come before or after the bad flag.
    args = ["backup", "--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to",
            f"dir:{tmp_path}/bk", *flags]
    args = ["backup", "--json", *args[1:]] if where == "before" else [*args, "--json"]
    res = clirun.run(*args)
    assert res.rc == 2, res.explain()
    summary = res.summary
    assert summary["status"] == "failed" and summary["command"] == "backup", res.explain()
    assert summary["error"]["code"] == "EINVAL"
    assert says in res.stderr and res.stderr.count("\n") == 1, res.explain()
    assert not (tmp_path / "bk").exists()


def test_a_level_without_a_compression_names_the_compress_flag(tmp_path):
    # the library's message said "(compress gzip or zstd)": the option's name, not the flag
    res = clirun.run("backup", "--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to",
                     f"dir:{tmp_path}/bk", "--compress-level", "5")
    assert res.rc == 2, res.explain()
    assert "(--compress gzip or zstd)" in res.stderr, res.explain()


SAS_WITH_SECRET = f"https://acct.blob.core.windows.net/c?sv=2022-11-02&sig={SECRET}"


@pytest.mark.parametrize("args", [
    # --flag=value is not how the command reads flags: refused, but it echoed the value
    ["backup", f"--source=mongodb://user:{SECRET}@127.0.0.1:1/", "--db", "x", "--to", "dir:bk"],
    ["backup", "--source", "mongodb://127.0.0.1:1/", "--db", "x", "--to", "dir:bk",
     f"--blob-connection-string=AccountName=a;AccountKey={SECRET}"],
    ["restore", f"--from={SAS_WITH_SECRET}", "--to", "mongodb://127.0.0.1:1/"],
    ["list", f"--from={SAS_WITH_SECRET}"],
    # a value without its flag
    ["backup", "--db", "x", "--to", "dir:bk", f"mongodb://user:{SECRET}@127.0.0.1:1/"],
    ["verify", "--source", "mongodb://127.0.0.1:1/", "--db", "x", SAS_WITH_SECRET],
    ["plan", f"--from=mongodb://user:{SECRET}@h/"],
    [f"mongodb://user:{SECRET}@127.0.0.1:1/"],
], ids=["backup-source=", "backup-cs=", "restore-from=", "list-from=", "backup-stray",
        "verify-stray", "plan", "command"])
def test_a_refused_argument_is_named_with_its_secrets_masked(tmp_path, args):
    res = clirun.run(*args)
    assert res.rc == 2, res.explain()
    _assert_masked(res)
    assert "****" in res.stderr, res.explain()  # the argument is still named

"""The `cosmocopy` command line: help, usage errors, and passwords that never
show."""

from __future__ import annotations

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

"""The drop-in scripts cosmosreplication and cosmosbackuptoblob (python/cosmocopy/dropin).

- Their argparse parsers are the original scripts' (sparepu/azuredfcosmos-mongo at 6ef3e43:
  the table below is theirs, option for option): same option strings, dests, help texts and
  required flags, so every command line parses as it did, abbreviations (-ir, -inc), "=" forms,
  ambiguities and missing options included.
- Bad input exits 2 before anything is touched: an -incr other than "yes" (the original's
  message), a -vault that is not an https URL, a secret name Key Vault refuses; a listening
  socket given as the vault sees no connection.
- The Data Factory options are reported as not needed; the engine gets the Key Vault references
  and the mode; a failed copy exits 1 with the original's facts, Ctrl-C 130; the client secret
  never appears in any output, argparse's errors included.
- They run as files, as modules and as the commands the wheel installs.
- End to end (FerretDB, Azurite and the Key Vault test server): both scripts with the original
  option set, full and -incr yes (a run after missed runs fills the gap), content checked with
  pymongo and azure-storage-blob, every bad input that needs the servers, Ctrl-C and a rerun.
  These need the Key Vault test server (tests/support/keyvault.py) and an engine that reads Key
  Vault references; they are skipped, saying which is missing, until both are in the tree.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from bson import ObjectId

import backupcheck as bc
import blobcheck
import datagen
from pkgtest import PACKAGE_TREE, REPO_ROOT

import cosmocopy
from cosmocopy.dropin import _script, cosmosbackuptoblob, cosmosreplication
from test_wheel import wheel, wheel_python  # noqa: F401  (fixtures: the wheel in a fresh venv)

MODULES = {"cosmosreplication": cosmosreplication, "cosmosbackuptoblob": cosmosbackuptoblob}
DROPIN_DIR = PACKAGE_TREE / "cosmocopy" / "dropin"

# The client secret of every command line here: no output may ever show it.
SECRET = "Xq7~not-for-your-eyes.1f9"

# The originals' add_argument calls: (short, long, help, required).
_HEAD = [
    ("-s", "--subscription", "Azure subscription id", True),
    ("-g", "--resourcegroup", "Azure Resource Group Name", True),
    ("-d", "--datafactory", "Azure DataFactory Name either to create or update", True),
    ("-clientid", "--clientid", "Service Principal Client ID", True),
    ("-clientsecret", "--clientsecret", "Service Principal Client Secret", True),
    ("-tenantid", "--tenantid", "Azure Tenant ID", True),
    ("-irid", "--integrationruntime", "Data factory Integration Runtime", False),
    ("-vault", "--vaulturl", "Azure Key Vault URL in https://<>.vault.azure.net format", True),
    ("-sourcesecret", "--secretnameforsourceconnectionstring",
     "Secret Name for source connection string", True),
]
_INCR = ("-incr", "--incremental", "Set to 'yes' for incremental backup", False)
ORIGINAL = {
    "cosmosreplication": _HEAD + [
        ("-sinksecret", "--secretnameforsinkconnectionstring",
         "Secret Name for sink connection string", True),
        ("-sourcedb", "--sourcedatabasename", "Database Name in source cosmos", True),
        ("-sinkdb", "--sinkdatabasename", "Database Name for sink cosmos", True),
        ("-sourcecollection", "--sourcecollectionname", "Collection Name in source cosmos", True),
        ("-sinkcollection", "--sinkcollectionname", "Collection Name in sink cosmos", True),
        _INCR],
    "cosmosbackuptoblob": _HEAD + [
        ("-sinksecret", "--secretnameforsinkconnectionstring",
         "Secret Name for Storage connection string", True),
        ("-sourcedb", "--sourcedatabasename", "Database Name in source cosmos", True),
        ("-sourcecollection", "--sourcecollectionname", "Collection Name in source cosmos", True),
        ("-sinkblob", "--sinkcontainername", "Container Name in sink storage", True),
        _INCR],
}


def original_parser(name: str) -> argparse.ArgumentParser:
    """The original getOptions() parser, as its source has it."""
    parser = argparse.ArgumentParser(prog=f"{name}.py", description="Parses command.")
    for short, long, help_text, required in ORIGINAL[name]:
        parser.add_argument(short, long, help=help_text, required=required)
    return parser


def command_line(name: str, vault: str = "https://myvault.vault.azure.net", **over) -> list[str]:
    """The README's command line for the script (with -ir, as the README writes it); keyword
    arguments replace values (None drops the option)."""
    values = {"-s": "sub-1", "-g": "rg-1", "-d": "df-1", "-clientid": "app-1",
              "-clientsecret": SECRET, "-tenantid": "tenant-1", "-ir": "ir-1", "-vault": vault,
              "-sourcesecret": "src-conn", "-sinksecret": "dst-conn", "-sourcedb": "shop"}
    if name == "cosmosreplication":
        values.update({"-sinkdb": "shop_copy", "-sourcecollection": "orders",
                       "-sinkcollection": "orders"})
    else:
        values.update({"-sourcecollection": "orders", "-sinkblob": "backups"})
    values.update({"-" + k: v for k, v in over.items()})
    argv: list[str] = []
    for flag, value in values.items():
        if value is not None:
            argv += [flag, value]
    return argv


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[int, dict, str]:
    """(exit code, namespace as a dict, stderr) of parser.parse_args(argv)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            ns = parser.parse_args(argv)
        except SystemExit as e:
            return int(e.code or 0), {}, err.getvalue()
    return 0, vars(ns), err.getvalue()


def assert_no_secret(*texts: str, secrets: tuple[str, ...] = (SECRET,)) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret was shown: {text!r}"


def script_env(env: dict | None) -> dict:
    """This environment without AZURE_* (the scripts set them), the development package on
    PYTHONPATH, then ``env``."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("AZURE_") and k != "PYTHONPATH"}
    full_env["PYTHONPATH"] = str(PACKAGE_TREE)
    full_env.update(env or {})
    return full_env


def run(name: str, *args: str, how: str = "file", env: dict | None = None,
        timeout: float = 120, secrets: tuple[str, ...] = (SECRET,)) -> subprocess.CompletedProcess:
    """Run a script as a separate process (``how``: "file", "module", or a path to the
    command), with the development package on PYTHONPATH; checks that no secret is shown."""
    if how == "file":
        cmd = [sys.executable, str(DROPIN_DIR / f"{name}.py")]
    elif how == "module":
        cmd = [sys.executable, "-m", f"cosmocopy.dropin.{name}"]
    else:
        cmd = [how]
    res = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                         env=script_env(env), stdin=subprocess.DEVNULL, cwd=REPO_ROOT)
    assert_no_secret(res.stdout, res.stderr, secrets=secrets)
    return res


class SilentVault:
    """A TCP listener standing in for the vault: counts the connections it gets, says nothing."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.connections = 0
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def silent_vault():
    vault = SilentVault()
    yield vault
    vault.close()


# ------------------------------------------------------------------ the options


@pytest.mark.parametrize("name", MODULES)
def test_the_options_are_the_originals(name):
    ours = MODULES[name].parser()
    assert ours.description == "Parses command."
    actions = [a for a in ours._actions if not isinstance(a, argparse._HelpAction)]
    got = [(a.option_strings[0], a.option_strings[1], a.help, a.required) for a in actions]
    assert got == ORIGINAL[name]
    for a in actions:
        assert (a.default, a.type, a.nargs, a.const, a.choices) == (None, None, None, None, None)
        assert a.dest == a.option_strings[1][2:]
    ours.prog = f"{name}.py"
    assert ours.format_usage() == original_parser(name).format_usage()


def _cases(name: str) -> list[tuple[str, list[str]]]:
    base = command_line(name)
    ir_at = base.index("-ir")
    cases = [
        ("the README's line (-ir for -irid)", base + ["-incr", "yes"]),
        ("long forms", [("--integrationruntime" if a == "-ir" else a) for a in base]),
        ("-inc abbreviates -incr", base + ["-inc", "yes"]),
        ("--incr abbreviates --incremental", base + ["--incr", "yes"]),
        ("-incr=yes", base + ["-incr=yes"]),
        ("-sourcesecret=abc", base + ["-sourcesecret=abc"]),
        ("-sIR: -s with its value attached", ["-sIR"] + base[2:]),
        ("a repeated option takes the last value", base + ["-sourcedb", "other"]),
        ("without -irid", base[:ir_at] + base[ir_at + 2:]),
        ("-i is ambiguous", base + ["-i", "x"]),
        ("-incr without its value", base + ["-incr"]),
        ("the README's blob line without the dash of -s", ["s"] + base[1:]),
        ("an unknown option", base + ["-sinkdatabase", "x"] if name == "cosmosbackuptoblob"
         else base + ["-sinkblob", "x"]),
    ]
    for i in range(0, len(base), 2):
        if base[i] != "-ir":
            cases.append((f"without {base[i]}", base[:i] + base[i + 2:]))
    return cases


@pytest.mark.parametrize("name", MODULES)
def test_every_command_line_parses_as_with_the_original(name):
    for label, argv in _cases(name):
        ours = MODULES[name].parser()
        ours.prog = f"{name}.py"
        expected = parse(original_parser(name), argv)
        got = parse(ours, argv)
        assert got == expected, label
    # the abbreviations the README relies on, spelled out
    code, ns, _ = parse(MODULES[name].parser(), command_line(name) + ["-inc", "yes"])
    assert code == 0 and ns["integrationruntime"] == "ir-1" and ns["incremental"] == "yes"
    code, _, err = parse(MODULES[name].parser(), command_line(name) + ["-i", "x"])
    assert code == 2 and "ambiguous option: -i could match -irid, -incr" in err
    code, _, err = parse(MODULES[name].parser(), command_line(name, vault=None))
    assert code == 2 and "the following arguments are required: -vault/--vaulturl" in err


@pytest.mark.parametrize("argv", [
    ["-clientsecrt", SECRET],
    ["--clientsecrets=" + SECRET],
    ["-clientsecretx", SECRET],
])
def test_the_client_secret_is_masked_in_argparse_errors(argv):
    res = run("cosmosreplication", *command_line("cosmosreplication"), *argv)
    assert res.returncode == 2 and "unrecognized arguments:" in res.stderr
    assert "****" in res.stderr
    assert SECRET not in res.stderr + res.stdout


@pytest.mark.parametrize("arg,says", [("--client=", "ambiguous option"),
                                      ("--c=", "ambiguous option"),
                                      ("-client=", "unrecognized arguments"),
                                      ("-cl=", "unrecognized arguments")])
def test_an_ambiguous_abbreviation_of_clientsecret_does_not_echo_its_value(arg, says):
    """argparse echoes an ambiguous option whole ("--client=VALUE could match --clientid,
    --clientsecret"), and an unrecognised one: the value is masked there too."""
    res = run("cosmosreplication", *command_line("cosmosreplication"), arg + SECRET)
    assert res.returncode == 2 and says in res.stderr, res.stderr
    assert "****" in res.stderr and SECRET not in res.stderr + res.stdout


def test_help_names_what_is_ignored_and_the_exit_codes():
    for name in MODULES:
        res = run(name, "-h")
        assert res.returncode == 0
        assert res.stdout.startswith(f"usage: {name}.py [-h] -s SUBSCRIPTION -g RESOURCEGROUP")
        text = " ".join(res.stdout.split())
        assert "-s, -g, -d and -irid are accepted and ignored" in text
        assert "Exit status: 0 copied, 1 the copy failed, 2 bad input" in text
        assert "130 interrupted" in text


# ------------------------------------------------------------------ as file, module, command


@pytest.mark.parametrize("how", ["file", "module"])
def test_runs_as_a_file_and_as_a_module(how):
    for name in MODULES:
        res = run(name, "-h", how=how)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith(f"usage: {name}.py [-h]")


def test_a_file_of_the_built_package_finds_its_package_without_pythonpath(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, str(DROPIN_DIR / "cosmosbackuptoblob.py"),
                          *command_line("cosmosbackuptoblob", incr="no")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert res.returncode == 2
    assert res.stderr.rstrip().endswith(_script.INCREMENTAL_MESSAGE)


def test_the_wheel_installs_both_commands(wheel_python):
    """pip installs cosmosreplication and cosmosbackuptoblob as commands (console scripts)."""
    bindir = Path(wheel_python).parent
    for name in MODULES:
        command = bindir / name
        assert command.is_file() and os.access(command, os.X_OK), sorted(os.listdir(bindir))
        res = run(name, "-h", how=str(command))
        assert res.returncode == 0 and res.stdout.startswith(f"usage: {name} [-h] -s SUBSCRIPTION")
        res = run(name, *command_line(name, incr="maybe"), how=str(command))
        assert res.returncode == 2 and _script.INCREMENTAL_MESSAGE in res.stderr


# ------------------------------------------------------------------ bad input, before anything


@pytest.mark.parametrize("value", ["no", "Yes", "YES", "true", "1", "", "yes ", "y"])
@pytest.mark.parametrize("name", MODULES)
def test_incr_other_than_yes_is_refused_before_anything_is_touched(name, value, silent_vault):
    res = run(name, *command_line(name, vault=silent_vault.url, incr=value))
    assert res.returncode == 2
    assert res.stderr.rstrip().endswith(f"error: {_script.INCREMENTAL_MESSAGE}")
    assert res.stdout == "" and "not needed" not in res.stderr
    time.sleep(0.2)
    assert silent_vault.connections == 0


@pytest.mark.parametrize("vault", [
    "http://127.0.0.1:{port}", "127.0.0.1:{port}", "myvault.vault.azure.net", "https://",
    "https:///secrets", "https://127.0.0.1:{port}/secrets", "https://127.0.0.1:{port}?a=1",
    "https://127.0.0.1:{port}#x", "https://me@127.0.0.1:{port}", "https://127.0.0.1:0",
    "https://127.0.0.1:99999", "kv://127.0.0.1:{port}", "",
    # a host Key Vault cannot have: it was refused later, blamed on -sourcesecret
    "https://my_vault.vault.azure.net", "https://a b.vault.azure.net", "https://127.0.0.1:/",
    "https://-vault.vault.azure.net", "https://vault..azure.net",
])
def test_a_vault_that_is_not_an_https_url_is_refused(vault, silent_vault):
    port = silent_vault.url.rsplit(":", 1)[1]
    value = vault.format(port=port)
    res = run("cosmosbackuptoblob", *command_line("cosmosbackuptoblob", vault=value))
    assert res.returncode == 2
    assert "error: argument -vault/--vaulturl:" in res.stderr and "is not a Key Vault URL" in \
        res.stderr
    time.sleep(0.2)
    assert silent_vault.connections == 0


@pytest.mark.parametrize("flag", ["sourcesecret", "sinksecret"])
@pytest.mark.parametrize("value", ["a/b", "a b", "x" * 128, "", "söme", "a?b", "a_b"])
def test_a_secret_name_key_vault_refuses_is_refused(flag, value, silent_vault):
    res = run("cosmosreplication",
              *command_line("cosmosreplication", vault=silent_vault.url, **{flag: value}))
    assert res.returncode == 2
    assert f"error: argument -{flag}/" in res.stderr
    assert "is not a Key Vault secret name" in res.stderr
    time.sleep(0.2)
    assert silent_vault.connections == 0


@pytest.mark.parametrize("name,flag", [
    ("cosmosbackuptoblob", "-clientsecret/--clientsecret"),
    ("cosmosbackuptoblob", "-clientid/--clientid"),
    ("cosmosreplication", "-tenantid/--tenantid"),
    ("cosmosbackuptoblob", "-sinkblob/--sinkcontainername"),
    ("cosmosreplication", "-sinkcollection/--sinkcollectionname"),
    ("cosmosreplication", "-sourcedb/--sourcedatabasename"),
])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_required_value_is_refused_naming_it(name, flag, value, silent_vault):
    """An unset variable in a cron line (-clientsecret "$SECRET") is bad input: an incomplete
    service principal used to fall through to the machine's managed identity."""
    short = flag.split("/")[0][1:]
    res = run(name, *command_line(name, vault=silent_vault.url, **{short: value}))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.rstrip().endswith(f"error: argument {flag}: expected a value, got an "
                                        "empty one"), res.stderr
    assert SECRET not in res.stderr
    time.sleep(0.2)
    assert silent_vault.connections == 0


@pytest.mark.parametrize("name", MODULES)
def test_a_missing_required_option_exits_2_with_argparses_message(name):
    res = run(name, *command_line(name, sourcedb=None, clientsecret=None))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.rstrip().endswith(
        "error: the following arguments are required: -clientsecret/--clientsecret, "
        "-sourcedb/--sourcedatabasename")


# ------------------------------------------------------------------ what the engine is asked


@pytest.fixture
def engine_calls(monkeypatch):
    """cosmocopy.replicate and cosmocopy.backup replaced by a recorder that returns a result
    (or raises ``calls.raises``); os.environ and the "cosmocopy" logger restored afterwards."""

    class Calls(list):
        raises: BaseException | None = None

        @staticmethod
        def main(name: str, argv: list[str]) -> int:
            """The script's main(argv), run as the installed command ``name``."""
            monkeypatch.setattr(sys, "argv", [f"/usr/local/bin/{name}"])
            return MODULES[name].main(argv)

    calls = Calls()
    result = cosmocopy.Result({
        "status": "ok", "documents_read": 1200, "bytes": 1234567, "stored_bytes": 1234000,
        "elapsed_seconds": 3.25, "windows_written": 3, "windows_already_complete": 2,
        "collections": [{"name": "orders", "range_start": "2026-01-01T00:00:00Z",
                         "range_end": "2026-01-01T12:00:00Z"}]})

    def recorder(command):
        def call(**kwargs):
            calls.append((command, kwargs, {k: os.environ.get(k) for k in
                                            ("AZURE_TENANT_ID", "AZURE_CLIENT_ID",
                                             "AZURE_CLIENT_SECRET")}))
            if calls.raises is not None:
                raise calls.raises
            return result
        return call

    for var in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cosmocopy, "replicate", recorder("replicate"))
    monkeypatch.setattr(cosmocopy, "backup", recorder("backup"))
    logger = logging.getLogger("cosmocopy")
    handlers, level = list(logger.handlers), logger.level
    yield calls
    logger.handlers[:] = handlers
    logger.setLevel(level)


REAL_API = {"replicate": inspect.signature(cosmocopy.replicate),
            "backup": inspect.signature(cosmocopy.backup)}


@pytest.mark.parametrize("incr", [None, "yes"])
def test_replication_asks_the_engine_for_the_vault_references_and_the_mode(engine_calls, capsys,
                                                                         incr):
    argv = command_line("cosmosreplication", vault="https://myvault.vault.azure.net/", incr=incr)
    assert engine_calls.main("cosmosreplication", argv) == 0
    [(command, kwargs, env)] = engine_calls
    REAL_API[command].bind(**kwargs)  # every keyword is one the real function takes
    mode = {"incremental": True} if incr else {"full": True}
    assert command == "replicate" and kwargs == dict(
        source="https://myvault.vault.azure.net/secrets/src-conn", db="shop",
        collection="orders", target="https://myvault.vault.azure.net/secrets/dst-conn",
        target_db="shop_copy", target_collection="orders", write_mode="upsert", step="4h",
        azure_credential="environment", progress=None, **mode)
    assert env == {"AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "app-1",
                   "AZURE_CLIENT_SECRET": SECRET}
    out, err = capsys.readouterr()
    assert err == "cosmosreplication: -s, -g, -d, -irid: not needed, ignored " \
                  "(no Data Factory is used)\n"
    assert out == ("\tCopy status: Succeeded\n"
                   "\tNumber of documents read: 1200\n"
                   "\tNumber of bytes read: 1234567\n"
                   "\tNumber of bytes written: 1234567\n"
                   "\tCopy duration: 3.2 s\n"
                   "\tWindows: 3 copied, 2 already complete (4h each, 2026-01-01T00:00:00Z to "
                   "2026-01-01T12:00:00Z)\n")


@pytest.mark.parametrize("incr", [None, "yes"])
def test_the_blob_backup_asks_the_engine_for_the_container_and_the_storage_secret(
        engine_calls, capsys, incr):
    argv = command_line("cosmosbackuptoblob", ir=None, incr=incr, sinkblob="backups/nightly")
    assert engine_calls.main("cosmosbackuptoblob", argv) == 0
    [(command, kwargs, _)] = engine_calls
    REAL_API[command].bind(**kwargs)
    mode = {"incremental": True} if incr else {"full": True}
    assert command == "backup" and kwargs == dict(
        source="https://myvault.vault.azure.net/secrets/src-conn", db="shop",
        collection="orders", to="azblob://backups/nightly",
        blob_connection_string="https://myvault.vault.azure.net/secrets/dst-conn",
        create_container=False, step="4h", azure_credential="environment", progress=None,
        **mode)
    out, err = capsys.readouterr()
    # without -irid only the three required Data Factory options are named
    assert err == "cosmosbackuptoblob: -s, -g, -d: not needed, ignored (no Data Factory is used)\n"
    assert "\tNumber of bytes written: 1234000\n" in out


def test_a_failed_copy_exits_1_with_the_originals_facts_and_no_secret(engine_calls, capsys):
    partial = cosmocopy.Result({"status": "failed", "documents_read": 10, "bytes": 100,
                                "stored_bytes": 100, "elapsed_seconds": 1.0,
                                "windows_written": 1, "windows_already_complete": 0})
    # an error whose message would carry the client secret (it must not reach the output)
    engine_calls.raises = cosmocopy.ThrottledError(f"throttled past the retries ({SECRET})",
                                                   result=partial)
    assert engine_calls.main("cosmosreplication", command_line("cosmosreplication")) == 1
    out, err = capsys.readouterr()
    assert_no_secret(out, err)
    assert "\tCopy status: Failed\n" in out and "\tNumber of bytes read: 100\n" in out
    assert "\tErrors: throttled past the retries (****)\n" in out


def test_an_engine_usage_error_exits_2_and_ctrl_c_exits_130(engine_calls, capsys):
    engine_calls.raises = cosmocopy.UsageError("option source: malformed connection string")
    assert engine_calls.main("cosmosbackuptoblob", command_line("cosmosbackuptoblob")) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.endswith("cosmosbackuptoblob: error: option source: malformed "
                                      "connection string\n")
    engine_calls.raises = KeyboardInterrupt()
    assert engine_calls.main("cosmosbackuptoblob", command_line("cosmosbackuptoblob")) == 130
    out, err = capsys.readouterr()
    assert out == "" and "interrupted; the windows completed are kept" in err


def _package_error(command, **kwargs):
    """The error the package raises for these arguments (its own wording, as a script gets it)."""
    with pytest.raises(cosmocopy.Error) as caught:
        with cosmocopy.Job(command, **kwargs) as job:
            job.plan()
    return caught.value


@pytest.mark.parametrize("name, error, expected", [
    ("cosmosbackuptoblob",
     lambda: _package_error("backup", source="not-a-uri", db="d", to="dir:/nowhere"),
     "error: -sourcesecret: malformed connection string"),
    ("cosmosbackuptoblob",
     lambda: _package_error("backup", source="mongodb://127.0.0.1:1/", db="d",
                            to="https://127.0.0.1:1/account-only?sv=1&sig=x"),
     "error: -sinkblob: destination URL names no container"),
    ("cosmosreplication",
     lambda: _package_error("replicate", source="mongodb://127.0.0.1:1/", db="d",
                            target="kv://vault"),
     "error: -sinksecret: Key Vault reference"),
    ("cosmosreplication",
     lambda: cosmocopy.errors.named(
         cosmocopy.UsageError("the target is the source (h, database d): give another "
                              "target_db= or target_collection="),
         {"target_db=": "target_db", "target_collection=": "target_collection"}),
     "error: the target is the source (h, database d): give another -sinkdb or "
     "-sinkcollection"),
])
def test_errors_name_the_scripts_own_options(engine_calls, capsys, name, error, expected):
    engine_calls.raises = error()
    assert engine_calls.main(name, command_line(name)) == 2
    out, err = capsys.readouterr()
    assert out == "" and expected in err, err
    assert "option " not in err and "=****" not in err


def test_a_failed_copy_names_the_scripts_option(engine_calls, capsys):
    engine_calls.raises = cosmocopy.errors.named(
        cosmocopy.NotFoundError("backup(source=****): secret nope not found in Key Vault v",
                                result=cosmocopy.Result({"status": "failed"})),
        {"backup(source=****)": "source"})
    assert engine_calls.main("cosmosbackuptoblob", command_line("cosmosbackuptoblob")) == 1
    out, _ = capsys.readouterr()
    assert "\tErrors: -sourcesecret: secret nope not found in Key Vault v\n" in out


def test_the_data_factory_options_are_reported_by_the_running_script(silent_vault):
    """As a process: the one line about the Data Factory options comes before anything else;
    then the engine refuses the empty database name (exit 2) before contacting the vault."""
    res = run("cosmosreplication",
              *command_line("cosmosreplication", vault=silent_vault.url, sourcedb="a" * 100))
    assert res.returncode == 2, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0] == ("cosmosreplication.py: -s, -g, -d, -irid: not needed, ignored (no Data "
                        "Factory is used)")
    assert lines[1].startswith("cosmosreplication.py: error: -sourcedb: ") and len(lines) == 2
    time.sleep(0.2)
    assert silent_vault.connections == 0


def test_secrets_are_masked_whole_and_short_ones_only_where_they_stand_alone():
    long_secret = "a1b2c3d4e5"
    assert _script.mask(f"x{long_secret}y and {long_secret}", [long_secret]) == "x****y and ****"
    assert _script.mask("the value is empty; key=y;", ["y"]) == "the value is empty; key=****;"
    assert _script.mask("nothing", [""]) == "nothing"


# ------------------------------------------------------------------ end to end

def _engine_reads_key_vault() -> bool:
    """Whether the engine takes a Key Vault reference where a connection string goes (branch
    creds): before it, the option is refused as a malformed connection string."""
    try:
        job = cosmocopy.Job("replicate", source="https://127.0.0.1:9/secrets/probe", db="d",
                            target="https://127.0.0.1:9/secrets/probe2", full=True)
    except cosmocopy.UsageError as e:
        if "malformed connection string" in str(e):
            return False
        raise
    job.close()
    return True


@pytest.fixture
def vault(keyvault):
    """The Key Vault test server with a service principal: (server, principal, environment
    for the scripts: the authority host and the CA the engine must trust)."""
    assert _engine_reads_key_vault(), "the engine does not read Key Vault references"
    sp = keyvault.add_service_principal()
    # the scripts take no option for a CA: the engine must find the test CA in the environment
    env = {"AZURE_AUTHORITY_HOST": keyvault.authority_host, "SSL_CERT_FILE": keyvault.ca_file}
    return keyvault, sp, env


def vault_args(name, kv, sp, **over) -> list[str]:
    return command_line(name, **{"vault": kv.vault_url, "clientid": sp.client_id,
                                 "clientsecret": sp.secret, "tenantid": sp.tenant_id, **over})


def run_e2e(name, kv, sp, env, *, secrets=(), **over) -> subprocess.CompletedProcess:
    """The script with the original option set (Data Factory options included) against the
    test vault; no output shows the client secret or a connection string's secret."""
    return run(name, *vault_args(name, kv, sp, **over), env=env, timeout=600,
               secrets=(sp.secret, *secrets))


def succeeded(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, res.stdout + res.stderr
    assert "\tCopy status: Succeeded\n" in res.stdout
    return res.stdout


def ago(hours: float) -> int:
    return int(time.time() - hours * 3600)


def fill(coll, lo: int, hi: int, n: int, seed: int) -> None:
    datagen.insert_spread(coll, lo, hi, n, doc_size=512, seed=seed, keep_ids=False)


def oid(t: int) -> ObjectId:
    return ObjectId(t.to_bytes(4, "big") + bytes(8))


def assert_same_collection(target, source) -> None:
    bc.assert_same_docs(bc.source_docs(target), bc.source_docs(source),
                        f"replica {target.full_name}")


def test_replication_full_then_incremental_end_to_end(vault, ferretdb, mongo, db_name):
    kv, sp, env = vault
    src = mongo[db_name].orders
    fill(src, ago(72), ago(1), 600, seed=1)
    kv.set_secret("src-conn", ferretdb.uri)
    kv.set_secret("dst-conn", ferretdb.uri)

    # full: the original's cron line with one word changed
    out = succeeded(run_e2e("cosmosreplication", kv, sp, env, sourcedb=db_name,
                            sinkdb=db_name, sinkcollection="replica_full"))
    assert_same_collection(mongo[db_name].replica_full, src)
    assert "\tNumber of documents read: 600\n" in out

    # -incr yes, nothing copied yet: everything, from the oldest document
    incr = dict(sourcedb=db_name, sinkdb=db_name, sinkcollection="replica_incr", incr="yes")
    succeeded(run_e2e("cosmosreplication", kv, sp, env, **incr))
    target = mongo[db_name].replica_incr
    assert_same_collection(target, src)

    # cron stopped for the last three windows: they leave the catalog (and the replica), and
    # documents were created in them meanwhile; the next -incr yes copies all of it
    catalog = mongo[db_name].cosmocopy
    windows = sorted(catalog.find({"target_collection": "replica_incr"}),
                     key=lambda w: w["window"]["start_epoch"])
    missed = windows[-3:]
    cut = missed[0]["window"]["start_epoch"]
    catalog.delete_many({"_id": {"$in": [w["_id"] for w in missed]}})
    target.delete_many({"_id": {"$gte": oid(cut)}})
    fill(src, cut, missed[-1]["window"]["end_epoch"] - 60, 90, seed=2)
    out = succeeded(run_e2e("cosmosreplication", kv, sp, env, **incr))
    assert_same_collection(target, src)
    # only the missed windows were copied (cut in parts for the parallel readers)
    assert f" copied, {len(windows) - 3} already complete " in out, out
    # a rerun right away finds nothing new
    out = succeeded(run_e2e("cosmosreplication", kv, sp, env, **incr))
    assert "\tWindows: 0 copied, " in out, out


def test_backup_to_blob_full_then_incremental_end_to_end(vault, ferretdb, mongo, db_name,
                                                         azurite, blob_container):
    kv, sp, env = vault
    src = mongo[db_name].orders
    fill(src, ago(72), ago(1), 600, seed=3)
    kv.set_secret("src-conn", ferretdb.uri)
    kv.set_secret("dst-conn", azurite.connection_string)
    secrets = (azurite.account_key,)
    container = blob_container.container_name

    # full, into the container itself: <db>/orders/<window>.bson and .manifest.json
    succeeded(run_e2e("cosmosbackuptoblob", kv, sp, env, secrets=secrets, sourcedb=db_name,
                      sinkblob=container))
    blobcheck.assert_blob_backup_matches(blob_container, "", mongo[db_name], ["orders"])
    names = [b.name for b in blob_container.list_blobs()]
    assert any(n.startswith(f"{db_name}/orders/") and n.endswith(".bson") for n in names)
    assert not any(n.endswith(".json.gz") for n in names)

    # -incr yes under a prefix (CONTAINER/PREFIX), then three missed runs caught up
    incr = dict(sourcedb=db_name, sinkblob=f"{container}/incr", incr="yes")
    succeeded(run_e2e("cosmosbackuptoblob", kv, sp, env, secrets=secrets, **incr))
    blobcheck.assert_blob_backup_matches(blob_container, "incr", mongo[db_name], ["orders"])
    backup = blobcheck.read_blob_backup(blob_container, "incr")
    missed = backup.windows_of(db_name, "orders", "window")[-3:]
    for w in missed:
        for name in (w.manifest_path.name, w.manifest["data"]):
            blob_container.delete_blob(f"incr/{db_name}/orders/{name}")
    fill(src, missed[0].start_epoch, missed[-1].end_epoch - 60, 90, seed=4)
    succeeded(run_e2e("cosmosbackuptoblob", kv, sp, env, secrets=secrets, **incr))
    blobcheck.assert_blob_backup_matches(blob_container, "incr", mongo[db_name], ["orders"])


def test_bad_input_that_needs_the_servers_fails_with_a_reason(vault, ferretdb, mongo, db_name,
                                                              azurite, blob_container):
    kv, sp, env = vault
    fill(mongo[db_name].orders, ago(24), ago(1), 50, seed=5)
    kv.set_secret("src-conn", ferretdb.uri)
    kv.set_secret("dst-conn", azurite.connection_string)
    kv.set_secret("not-a-conn", "this is not a connection string")
    secrets = (azurite.account_key,)
    blob = dict(sourcedb=db_name, sinkblob=blob_container.container_name)

    def fails(res, code, *words):
        assert res.returncode == code, res.stdout + res.stderr
        text = res.stdout + res.stderr
        for word in words:
            assert word in text, text

    # a secret that is not in the vault
    fails(run_e2e("cosmosbackuptoblob", kv, sp, env, secrets=secrets, sourcesecret="nope",
                  **blob), 1, "Copy status: Failed", "Errors: -sourcesecret: ", "nope")
    # a wrong client secret: the token is refused
    other = dataclasses.replace(sp, secret="wrong-" + uuid.uuid4().hex)
    fails(run("cosmosbackuptoblob", *vault_args("cosmosbackuptoblob", kv, other, **blob),
              env=env, timeout=600, secrets=(other.secret, sp.secret, *secrets)), 1,
          "Copy status: Failed", "-clientsecret: Entra ID refused the client secret")
    # an unknown tenant, an unknown client ID: each named by its own option
    for wrong, words in ((dataclasses.replace(sp, tenant_id=str(uuid.uuid4())),
                          "-tenantid: Entra ID knows no tenant"),
                         (dataclasses.replace(sp, client_id=str(uuid.uuid4())),
                          "-clientid: Entra ID knows no client")):
        res = run("cosmosbackuptoblob", *vault_args("cosmosbackuptoblob", kv, wrong, **blob),
                  env=env, timeout=600, secrets=(sp.secret, *secrets))
        fails(res, 1, "Copy status: Failed", words)
        assert "-clientsecret" not in res.stdout
    # a vault certificate the system does not trust: the hint is what a script's user can do
    untrusted = {k: v for k, v in env.items() if k != "SSL_CERT_FILE"}
    fails(run_e2e("cosmosbackuptoblob", kv, sp, untrusted, secrets=secrets, **blob), 2,
          "certificate cannot be checked",
          "(the environment variable SSL_CERT_FILE names the CA bundle that signs it)")
    # an authority that is not https: said in the script's words, no Python keyword
    res = run_e2e("cosmosbackuptoblob", kv, sp, dict(env, AZURE_AUTHORITY_HOST="http://127.0.0.1:1"),
                  secrets=secrets, **blob)
    fails(res, 1, "AZURE_AUTHORITY_HOST http://127.0.0.1:1 is not an https:// URL")
    assert "azure_credential" not in res.stdout + res.stderr
    # a vault host that does not exist is -vault's, not the secret's being read from it
    res = run("cosmosbackuptoblob", *vault_args("cosmosbackuptoblob", kv, sp, **blob,
                                                vault="https://nosuchvault-zz.vault.azure.net"),
              env=env, timeout=600, secrets=(sp.secret, *secrets))
    fails(res, 1, "-vault: Key Vault nosuchvault-zz.vault.azure.net: host not found")
    # a sink secret that holds no connection string: named by the script's flag
    res = run_e2e("cosmosbackuptoblob", kv, sp, env, secrets=secrets, sinksecret="not-a-conn",
                  **blob)
    fails(res, 2, "-sinksecret", "malformed blob connection string")
    assert "this is not a connection string" not in res.stdout + res.stderr
    # a container that does not exist (it is not created, as the original wrote into one)
    res = run_e2e("cosmosbackuptoblob", kv, sp, env, secrets=secrets, sourcedb=db_name,
                  sinkblob="no-such-container")
    fails(res, 1, "no-such-container", "(create it first)")
    assert "create_container" not in res.stdout + res.stderr
    assert "no-such-container" not in [c.name for c in azurite.service_client().list_containers()]
    # a container name Blob Storage refuses is bad input
    fails(run_e2e("cosmosbackuptoblob", kv, sp, env, secrets=secrets, sourcedb=db_name,
                  sinkblob="Bad_Name"), 2, "-sinkblob", 'container name "Bad_Name"')
    # replication onto itself is refused
    fails(run_e2e("cosmosreplication", kv, sp, env, sourcesecret="src-conn",
                  sinksecret="src-conn", sourcedb=db_name, sinkdb=db_name,
                  sinkcollection="orders"), 2, "give another -sinkdb or -sinkcollection")


def test_ctrl_c_exits_130_and_the_next_run_completes(vault, ferretdb, mongo, db_name,
                                                    cosmos_proxy):
    kv, sp, env = vault
    src = mongo[db_name].orders
    fill(src, ago(120), ago(1), 600, seed=6)
    # about 250 RU to read: ten seconds at 25 RU/s
    proxy = cosmos_proxy(ferretdb, ru_per_second=25)
    kv.set_secret("src-conn", f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true")
    kv.set_secret("dst-conn", ferretdb.uri)
    argv = vault_args("cosmosreplication", kv, sp, sourcedb=db_name, sinkdb=db_name,
                      sinkcollection="replica")
    proc = subprocess.Popen([sys.executable, str(DROPIN_DIR / "cosmosreplication.py"), *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=script_env(env), cwd=REPO_ROOT,
                            # Python ignores Ctrl-C if it starts with SIGINT ignored (as
                            # background jobs of a shell do)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while mongo[db_name].cosmocopy.count_documents({}) == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no window completed in 120 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert_no_secret(out, err, secrets=(sp.secret,))
    assert proc.returncode == 130, out + err
    assert "interrupted; the windows completed are kept" in err
    assert mongo[db_name].replica.count_documents({}) < 600
    # the rerun reads the source directly: a new version of the secret, read by the next run
    kv.set_secret("src-conn", ferretdb.uri)
    succeeded(run("cosmosreplication", *argv, env=env, timeout=600, secrets=(sp.secret,)))
    assert_same_collection(mongo[db_name].replica, src)

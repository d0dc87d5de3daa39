"""The package's functions end to end against FerretDB and Azurite: backup, replicate, restore,
verify, plan, list_windows, options and reading a backup back. Every destination is read with
an independent client (the folder and blob readers of tests/support, pymongo), and each result
is compared with what the command prints for the same job."""

from __future__ import annotations

import copy
import datetime
import json
import pickle

import bson
import pytest
from bson.raw_bson import RawBSONDocument

import backupcheck as bc
import blobcheck
from pkgtest import HOUR, START


def test_backup_to_a_folder_holds_exactly_the_source(cc, orders, window_args, tmp_path):
    result = cc.backup(to=tmp_path / "bk", **window_args)
    assert isinstance(result, cc.Result)
    assert result.ok and result.status == "ok" and result.command == "backup"
    assert result.windows_planned == 3 and result.windows_written == 3
    assert result.documents == 1200 == orders.count_documents({})
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])
    # per-window outcomes as attributes, and the plain data
    assert [w.kind for w in result.windows] == ["window"] * 3
    assert all(len(w.sha256) == 64 and w.data.endswith(".bson") for w in result.windows)
    assert sum(w.documents for w in result.windows) == 1200
    assert result.windows[0].start_time.timestamp() == START
    assert result.to_dict()["documents"] == 1200
    assert result.request_units.charged >= 0
    again = cc.backup(to=tmp_path / "bk", **window_args)
    assert again.windows_written == 0 and again.windows_already_complete == 3


def test_the_result_has_the_figures_of_the_commands_json(cc, orders, window_args, tmp_path,
                                                        run_cli):
    result = cc.backup(to=f"dir:{tmp_path}/py", **window_args)
    w = window_args
    res = run_cli("backup", "--source", w["source"], "--db", w["db"], "--collection",
                        "orders", "--step", "4h", "--parallel", "3", "--from", f"@{START}", "--to",
                        f"@{START + 12 * HOUR}", "--to", f"dir:{tmp_path}/cli", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    mine = result.to_dict()
    assert set(mine) == set(summary)
    for key in ("status", "windows_planned", "windows_written", "documents", "bytes",
                "stored_bytes"):
        assert mine[key] == summary[key], key
    assert [(x["start"], x["documents"], x["sha256"]) for x in mine["windows"]] == \
        [(x["start"], x["documents"], x["sha256"]) for x in summary["windows"]]


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_backup_to_azurite_with_a_connection_string(cc, orders, window_args, azurite,
                                                    blob_container, compression):
    to = f"azblob://{blob_container.container_name}/nightly"
    result = cc.backup(to=to, blob_connection_string=azurite.connection_string,
                       compress=compression, **window_args)
    assert result.windows_written == 3
    blobcheck.assert_blob_backup_matches(blob_container, "nightly", orders.database, ["orders"])
    assert azurite.account_key not in repr(result) + json.dumps(result.to_dict())


def test_replicate_then_restore_then_verify(cc, orders, window_args, mongo, ferretdb, db_name,
                                            tmp_path):
    target_db = db_name + "_r"
    try:
        rep = cc.replicate(target=ferretdb.uri, target_db=target_db, **window_args)
        assert rep.windows_written == 3 and rep.documents == 1200
        bc.assert_same_docs(bc.source_docs(mongo[target_db].orders), bc.source_docs(orders),
                            "replica")

        cc.backup(to=tmp_path / "bk", **window_args)
        restored_db = db_name + "_x"
        res = cc.restore(from_=f"dir:{tmp_path / 'bk'}", target=ferretdb.uri, db=db_name,
                         to_db=restored_db)
        assert res.ok and res.documents == 1200
        bc.assert_same_docs(bc.source_docs(mongo[restored_db].orders), bc.source_docs(orders),
                            "restored")

        ok = cc.verify(source=ferretdb.uri, db=db_name, collection="orders",
                       backup=f"dir:{tmp_path / 'bk'}")
        assert ok.status == "ok" and ok.verdicts and all(v.status == "ok" for v in ok.verdicts)
    finally:
        mongo.drop_database(target_db)
        mongo.drop_database(db_name + "_x")


def test_verify_that_finds_a_difference_raises_mismatch_with_the_verdicts(
        cc, orders, window_args, ferretdb, db_name, tmp_path):
    cc.backup(to=tmp_path / "bk", **window_args)
    victim = orders.find_one(sort=[("_id", 1)])
    orders.update_one({"_id": victim["_id"]}, {"$set": {"changed": True}})
    with pytest.raises(cc.MismatchError) as caught:
        cc.verify(source=ferretdb.uri, db=db_name, collection="orders",
                  backup=f"dir:{tmp_path / 'bk'}", deep=True)
    err = caught.value
    assert err.code_name == "EMISMATCH" and err.result.status == "differs"
    assert [v.status for v in err.result.verdicts] == ["differs", "ok", "ok"]
    assert err.result.verdicts[0].different == 1


def test_plan_is_the_commands_plan(cc, run_cli):
    got = cc.plan(from_="2026-01-01T01:00:00Z", to="2026-01-02", step="6h")
    res = run_cli("plan", "--from", "2026-01-01T01:00:00Z", "--to", "2026-01-02",
                        "--step", "6h", "--json")
    assert got.to_dict() == json.loads(res.stdout)
    assert [w.start for w in got.windows][:2] == ["2026-01-01T01:00:00Z", "2026-01-01T06:00:00Z"]
    assert got.windows[0].lo == "6955c71000000000" + "00000000"
    import datetime as dt
    same = cc.plan(**{"from": dt.datetime(2026, 1, 1, 1), "to": dt.date(2026, 1, 2)},
                   step=dt.timedelta(hours=6))
    assert same == got


@pytest.mark.parametrize("kwargs, words", [
    (dict(from_="yesterday-ish", to="now"), ["from_=", "yesterday-ish"]),
    (dict(from_="2026-01-02", to="2026-01-01"), []),
    (dict(from_="2026-01-01", to="2026-01-02", step="0s"), ["step="]),
    (dict(from_="2026-01-01", to="2026-01-02", step="4 hours"), ["step="]),
    (dict(to="2026-01-02"), ["from_= and to= are required"]),
])
def test_plan_refuses_bad_input_naming_the_argument(cc, kwargs, words):
    with pytest.raises(cc.UsageError) as caught:
        cc.plan(**kwargs)
    assert caught.value.code_name == "EINVAL"
    for w in words:
        assert w in str(caught.value)


def test_list_windows_is_the_commands_list_and_reads_back_the_documents(
        cc, orders, window_args, tmp_path, run_cli):
    cc.backup(to=tmp_path / "bk", **window_args)
    listing = cc.list_windows(f"dir:{tmp_path / 'bk'}", db=orders.database.name)
    res = run_cli("list", "--from", f"dir:{tmp_path / 'bk'}", "--json")
    assert listing.to_dict() == json.loads(res.stdout)
    assert cc.list is cc.list_windows
    assert len(listing.windows) == 3 and listing.documents == 1200
    # every window read back: raw BSON, exactly the source's documents of that window
    source = bc.source_docs(orders)
    seen = {}
    for window in listing.windows:
        lo, hi = window.window.start_epoch, window.window.end_epoch
        docs = list(window.read())
        assert len(docs) == window.documents
        for raw in docs:
            assert isinstance(raw, bytes)
            doc = RawBSONDocument(raw)
            assert lo <= doc["_id"].generation_time.timestamp() < hi
            seen[bc.doc_key(doc)] = raw
    bc.assert_same_docs(seen, source, "read back")
    # decoded, or with the caller's decoder
    first = listing.windows[0]
    decoded = list(first.read(decode=True))
    assert decoded == [bson.decode(r) for r in first.read()]
    assert all(isinstance(d, RawBSONDocument) for d in first.read(decode=RawBSONDocument))
    assert sum(1 for _ in cc.open_backup(tmp_path / "bk").read(collection="orders")) == 1200
    # read-only: copies are the same; reading goes through this process's open backup, so
    # pickling says what to send instead
    assert copy.copy(first) is first and copy.deepcopy(listing) is listing
    for tied in (first, listing):
        with pytest.raises(TypeError, match="send to_dict\\(\\), or the backup's location"):
            pickle.dumps(tied)
    assert pickle.loads(pickle.dumps(first.to_dict())) == first.to_dict()


def test_results_and_plans_copy_and_pickle(cc, orders, window_args, tmp_path):
    result = cc.backup(to=tmp_path / "bk", **window_args)
    plan = cc.plan(from_="2026-01-01", to="2026-01-02")
    for record in (result, plan, plan.windows[0], result.collections[0]):
        for again in (copy.copy(record), copy.deepcopy(record), pickle.loads(pickle.dumps(record))):
            assert type(again) is type(record) and again == record
            assert again.to_dict() == record.to_dict()
    again = pickle.loads(pickle.dumps(result))
    assert again.documents == 1200 and again.ok and again.windows_written == 3


def test_backups_to_may_end_the_range_as_the_commands_to(cc, orders, window_args, tmp_path):
    args = {k: v for k, v in window_args.items() if k != "until"}
    # as `cosmocopy backup --to dir:... --from T --to T`: a time given to `to` ends the range
    result = cc.backup(sink=f"dir:{tmp_path / 'a'}", to=START + 4 * HOUR, **args)
    assert result.ok and result.documents == 400
    end = datetime.datetime.fromtimestamp(START + 8 * HOUR, datetime.timezone.utc)
    result = cc.backup(sink=tmp_path / "b", to=end, **args)
    assert result.ok and result.documents == 800
    # a destination given twice is still refused, naming both
    with pytest.raises(cc.UsageError, match="to and sink both set sink"):
        cc.backup(sink=tmp_path / "c", to=f"dir:{tmp_path / 'd'}", until=START + HOUR, **args)


def test_reading_a_window_whose_data_was_altered_raises_corrupt(cc, orders, window_args,
                                                                 tmp_path):
    cc.backup(to=tmp_path / "bk", **window_args)
    window = cc.open_backup(tmp_path / "bk").windows()[1]
    data = tmp_path / "bk" / window.database / window.collection / window.data
    raw = bytearray(data.read_bytes())
    raw[-2] ^= 0x01  # inside the last document's last string: still parses, different bytes
    data.write_bytes(bytes(raw))
    with pytest.raises(cc.CorruptError) as caught:
        for _ in window.read():
            pass
    assert window.data in str(caught.value)
    # stopping early is fine and reads no further
    assert len([d for _, d in zip(range(5), cc.open_backup(tmp_path / "bk").windows()[0].read())]) == 5


def test_reading_back_from_azurite(cc, orders, window_args, azurite, blob_container):
    to = f"azblob://{blob_container.container_name}/p"
    cc.backup(to=to, blob_connection_string=azurite.connection_string, compress="gzip",
              **window_args)
    backup = cc.open_backup(to, blob_connection_string=azurite.connection_string)
    assert azurite.account_key not in repr(backup)
    got = {bc.doc_key(RawBSONDocument(r)): r for r in backup.read(db=orders.database.name)}
    bc.assert_same_docs(got, bc.source_docs(orders), "read back from blob")
    sas = cc.list_windows(azurite.sas_url(blob_container.container_name, "p"))
    assert sas.documents == 1200


def test_reading_back_retries_and_times_out_as_told(cc, orders, window_args, azurite,
                                                     blob_container, blob_fault_proxy):
    from httpfault import FaultRule

    to = f"azblob://{blob_container.container_name}/r"
    cc.backup(to=to, blob_connection_string=azurite.connection_string, **window_args)
    proxy = blob_fault_proxy(azurite, rules=[
        FaultRule("server_busy", method="GET", query="comp=list", on={1, 2}, retry_after=None)])
    listing = cc.list_windows(to, blob_connection_string=proxy.connection_string,
                              retry_base_ms=20)
    assert listing.documents == 1200 and proxy.counters()["server_busy"] == 2
    proxy.configure(rules=[FaultRule("server_busy", method="GET", query="comp=list", on={1},
                                     retry_after=None)])
    with pytest.raises(cc.ServerError):
        cc.open_backup(to, blob_connection_string=proxy.connection_string,
                       retry_budget=0).windows()
    with pytest.raises(cc.UsageError, match=r"open_backup\(blob_timeout_ms=10\)"):
        cc.open_backup(to, blob_connection_string=azurite.connection_string, blob_timeout_ms=10)
    with pytest.raises(cc.UsageError, match="expected an int"):
        cc.list_windows(to, blob_connection_string=azurite.connection_string, retry_budget="3")


def test_options_is_the_engines_table(cc):
    every = cc.options()
    names = [o.name for o in every]
    assert {"source", "sink", "batch_size", "compress", "max_ru"} <= set(names)
    backup = {o.name for o in cc.options("backup")}
    assert "sink" in backup and "target" not in backup
    batch = next(o for o in every if o.name == "batch_size")
    assert batch.type == "int" and batch.min == 1 and batch.doc
    assert next(o for o in every if o.name == "source").secret
    with pytest.raises(cc.UsageError, match="unknown command"):
        cc.options("dump")


def test_help_reads_well(cc):
    doc = cc.backup.__doc__
    assert "Back up" in doc and "Example::" in doc and "batch_size: int" in doc
    assert "to: " in doc and "sets sink" in doc
    for fn in (cc.replicate, cc.restore, cc.verify, cc.plan, cc.list_windows, cc.open_backup,
               cc.options, cc.Job, cc.Job.run, cc.Job.plan, cc.Job.cancel):
        assert fn.__doc__ and len(fn.__doc__.strip()) > 60, fn


def _example_calls(text):
    """(function name, keyword names, positional count) of every cosmocopy.X(...) and
    cc.Job(...) call in the Python code of a text (README blocks, docstring examples)."""
    import ast
    import re
    import textwrap

    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    blocks += [textwrap.dedent(b) for b in re.findall(r"::\n\n((?:(?: {4,}.*)?\n)+)", text)]
    for block in blocks:
        block = textwrap.dedent(block)
        if ">>>" in block:  # doctest: the statements only
            block = "\n".join(line[4:] for line in block.splitlines()
                              if line.startswith((">>> ", "... ")))
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "cosmocopy":
                yield node.func.attr, [k.arg for k in node.keywords if k.arg], node.args


def test_every_example_in_the_readme_and_docstrings_uses_real_arguments(cc):
    import inspect
    import pathlib
    import pydoc

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    texts = [readme] + [pydoc.getdoc(getattr(cc, n)) for n in cc.__all__ if callable(getattr(cc, n))]
    texts += [cc.__doc__] + [pydoc.getdoc(m) for n, m in vars(cc.Job).items() if callable(m)]
    texts += [__import__("cosmocopy.catalog").catalog.__doc__]
    checked = 0
    for text in texts:
        for name, keywords, args in _example_calls(text or ""):
            fn = getattr(cc, name)
            if name == "Job":
                command = args[0].value
                known = set(inspect.signature(getattr(cc, command)).parameters)
                assert set(keywords) <= known, (command, set(keywords) - known)
            else:
                inspect.signature(fn).bind(*[None] * len(args), **dict.fromkeys(keywords))
            checked += 1
    assert checked >= 12


def test_the_docstring_doctests_hold(cc):
    import doctest

    for fn in (cc.plan, cc.options):
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner()
        for test in finder.find(fn, globs={"cosmocopy": cc}):
            runner.run(test)
        assert runner.failures == 0 and runner.tries >= 1, fn


def test_list_windows_of_a_backup_holding_nothing_named_is_bad_input_as_the_command(
        cc, orders, window_args, tmp_path):
    """README: list_windows is `cosmocopy list --json`, which exits 2 for a folder holding no
    backup, or none of the database or collection named; open_backup reads it as empty."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(cc.UsageError, match=r"^list_windows\(from_=\*\*\*\*\): dir:.*/empty "
                                            r"holds no backup$"):
        cc.list_windows(f"dir:{tmp_path / 'empty'}")
    assert cc.open_backup(f"dir:{tmp_path / 'empty'}").windows() == []
    cc.backup(to=tmp_path / "bk", **window_args)
    db = orders.database.name
    for kw, words in (({"db": "nosuch"}, "of database nosuch"),
                      ({"db": db, "collection": "nosuch"}, f"of database {db}, collection nosuch")):
        with pytest.raises(cc.UsageError, match=f"holds no backup {words}$"):
            cc.list_windows(f"dir:{tmp_path / 'bk'}", **kw)
    assert len(cc.list_windows(f"dir:{tmp_path / 'bk'}", db=db).windows) == 3

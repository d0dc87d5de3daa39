"""Every failure is an exception of one hierarchy rooted in cosmocopy.Error, of the class a
caller would catch, carrying the engine's code, domain and cause; bad arguments are named; no
secret reaches a message, a repr or a log record."""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import copy
import pickle

import pytest

from pkgtest import HOUR, START

PASSWORD = "Pa55-w0rd-never-shown"


def test_the_hierarchy(cc):
    for name in ("UsageError", "NotFoundError", "AuthenticationError", "ConnectionError",
                 "TimeoutError", "ThrottledError", "ServerError", "SinkError", "CorruptError",
                 "BusyError", "MismatchError", "RejectedError", "PartialError", "CancelledError",
                 "StoppedError"):
        assert issubclass(getattr(cc, name), cc.Error), name
    assert issubclass(cc.UsageError, ValueError)
    assert issubclass(cc.ConnectionError, builtins.ConnectionError)
    assert issubclass(cc.TimeoutError, cc.ConnectionError)
    assert issubclass(cc.AuthenticationError, PermissionError)
    assert issubclass(cc.SinkError, OSError) and issubclass(cc.CorruptError, cc.SinkError)


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(batch_size=0), "UsageError", ["backup(batch_size=0)", "below the minimum 1"]),
    (dict(batch_size="many"), "UsageError", ["backup(batch_size='many')"]),
    (dict(compress="lz4"), "UsageError", ["backup(compress='lz4')", "gzip"]),
    (dict(step=True), "UsageError", ["backup(step=True)"]),
    (dict(collection=[1, 2]), "UsageError", ["backup(collection=[1, 2])"]),
    (dict(batchsize=10), TypeError, ["unexpected keyword argument 'batchsize'",
                                     "did you mean batch_size=?"]),
    (dict(target_db="x"), TypeError, ["backup() does not take target_db="]),
    (dict(to=None), "UsageError", ["to="]),
    (dict(full=True, from_=START, until=START + HOUR), "UsageError", ["choose"]),
])
def test_bad_arguments_are_named(cc, ferretdb, db_name, tmp_path, kwargs, exc, words):
    args = dict(source=f"mongodb://u:{PASSWORD}@127.0.0.1:{ferretdb.port}/", db=db_name,
                to=f"dir:{tmp_path}")
    args.update(kwargs)
    if args["to"] is None:
        del args["to"]
    expected = getattr(cc, exc) if isinstance(exc, str) else exc
    with pytest.raises(expected) as caught:
        cc.backup(**args)
    err = caught.value
    assert isinstance(err, cc.UsageError) and err.code_name == "EINVAL"
    for w in words:
        assert w in str(err), str(err)
    assert PASSWORD not in str(err) + repr(err)
    assert list(tmp_path.iterdir()) == []  # nothing was written


@pytest.mark.parametrize("call, words", [
    (lambda cc, d: cc.open_backup(d, blob_timout_ms=5),
     ["open_backup() got an unexpected keyword argument 'blob_timout_ms'",
      "did you mean blob_timeout_ms=?"]),
    (lambda cc, d: cc.list_windows(d, colection="x"),
     ["list_windows() got an unexpected keyword argument 'colection'",
      "did you mean collection=?"]),
    (lambda cc, d: cc.plan(from_="-1d", to="now", stepp="1h"),
     ["plan() got an unexpected keyword argument 'stepp'", "did you mean step=?"]),
    (lambda cc, d: cc.options(commnd="backup"),
     ["options() got an unexpected keyword argument 'commnd'", "did you mean command=?"]),
])
def test_every_function_names_an_unknown_keyword_with_a_did_you_mean(cc, tmp_path, call, words):
    with pytest.raises(TypeError) as caught:
        call(cc, f"dir:{tmp_path}")
    assert isinstance(caught.value, cc.UsageError)
    for w in words:
        assert w in str(caught.value), str(caught.value)


def test_an_unreachable_source_is_a_connection_error(cc, db_name, tmp_path, caplog):
    uri = f"mongodb://u:{PASSWORD}@127.0.0.1:1/?serverSelectionTimeoutMS=300"
    with caplog.at_level(logging.DEBUG, logger="cosmocopy"):
        with pytest.raises(cc.ConnectionError) as caught:
            cc.backup(source=uri, db=db_name, to=tmp_path / "bk", retry_budget=0)
    err = caught.value
    assert err.code_name in ("ENETWORK", "ETIMEDOUT") and err.domain in ("mongo", "engine")
    assert "127.0.0.1:1" in str(err)
    shown = str(err) + repr(err) + repr(err.result) + str(err.result.to_dict()) + caplog.text
    assert PASSWORD not in shown
    assert err.result.status == "failed"
    # an exception a caller can keep or send elsewhere
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and str(again) == str(err) and again.code == err.code
    # with what the job did: its result too crosses processes (and copies)
    assert again.result == err.result and again.result.status == "failed"
    assert copy.deepcopy(err.result) == err.result and copy.copy(err.result) == err.result


def test_a_rejected_account_key_is_an_authentication_error(cc, orders, window_args, azurite,
                                                           blob_container):
    wrong = azurite.connection_string.replace(azurite.account_key, "A" * 86 + "==")
    with pytest.raises(cc.AuthenticationError) as caught:
        cc.backup(to=f"azblob://{blob_container.container_name}/x", blob_connection_string=wrong,
                  **window_args)
    err = caught.value
    assert err.code_name == "EAUTH" and err.domain == "http" and err.cause == 403
    assert "A" * 20 not in str(err) + repr(err) and azurite.account_key not in str(err)


def test_a_missing_container_is_bad_input_naming_it(cc, azurite):
    with pytest.raises(cc.UsageError) as caught:
        cc.list_windows("azblob://no-such-container-here",
                        blob_connection_string=azurite.connection_string)
    assert "container no-such-container-here does not exist" in str(caught.value)
    assert azurite.account_key not in str(caught.value) + repr(caught.value)
    # open_backup's docstring: NotFoundError when it does not exist (and bad input still)
    with pytest.raises(cc.NotFoundError) as caught:
        cc.open_backup("azblob://no-such-container-here",
                       blob_connection_string=azurite.connection_string)
    assert isinstance(caught.value, cc.UsageError) and caught.value.code_name == "EINVAL"


@pytest.mark.parametrize("call", ["open_backup", "list_windows", "restore", "verify"])
def test_a_missing_backup_folder_is_not_found_and_bad_input(cc, tmp_path, call):
    """open_backup's docstring says NotFoundError; the command exits 2 (bad input): both, for
    every function that reads a backup, and so after a trip through pickle (Dask)."""
    missing = f"dir:{tmp_path}/missing"
    args = {"open_backup": ((missing,), {}), "list_windows": ((missing,), {}),
            "restore": ((), {"from": missing, "to": "mongodb://127.0.0.1:1/"}),
            "verify": ((), {"backup": missing, "source": "mongodb://127.0.0.1:1/", "db": "x"})}
    positional, keywords = args[call]
    with pytest.raises(cc.NotFoundError) as caught:
        getattr(cc, call)(*positional, **keywords)
    err = caught.value
    assert isinstance(err, cc.UsageError) and isinstance(err, LookupError)
    assert err.code_name == "EINVAL" and "missing does not exist" in str(err)
    if call in ("open_backup", "list_windows"):  # the message names the argument
        keyword = "location" if call == "open_backup" else "from_"
        assert str(err).startswith(f"{call}({keyword}=****): backup folder "), str(err)
    assert repr(err).startswith("UsageError(") and type(err).__module__ == "cosmocopy"
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, cc.NotFoundError) and isinstance(again, cc.UsageError)
    assert str(again) == str(err)


def test_names_a_backup_cannot_hold_and_a_file_that_is_no_folder_name_the_argument(cc, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(cc.UsageError, match=r"^open_backup\(location=\*\*\*\*\): cannot open "
                       "backup folder .*: it is not a folder"):
        cc.open_backup(f"dir:{tmp_path / 'file'}")
    (tmp_path / "bk").mkdir()
    with pytest.raises(cc.UsageError, match=r"^windows\(db=''\): database name \"\" cannot"):
        cc.open_backup(tmp_path / "bk").windows(db="")


def test_ca_files_may_be_paths(cc, tmp_path):
    missing = tmp_path / "ca.pem"
    for keyword in ("tls_ca_file", "https_ca_file"):
        with pytest.raises(cc.UsageError, match=f"CA file {missing} cannot be read"):
            cc.backup(source="mongodb://127.0.0.1:1/", db="d", to=tmp_path / "bk",
                      **{keyword: missing})


@pytest.mark.parametrize("name", ["Bad_Name", "ab", "a--b"])
def test_a_container_name_blob_storage_refuses_is_a_usage_error_naming_the_argument(cc, azurite,
                                                                                    name):
    cs = azurite.connection_string
    with pytest.raises(cc.UsageError, match=rf'^backup\(to=\*\*\*\*\): container name "{name}" '):
        cc.backup(source="mongodb://127.0.0.1:1/", db="shop", to=f"azblob://{name}",
                  blob_connection_string=cs)
    with pytest.raises(cc.UsageError, match=rf'^open_backup\(location=\*\*\*\*\): container name'):
        cc.open_backup(f"azblob://{name}", blob_connection_string=cs)


def test_a_window_whose_data_is_gone_is_not_found(cc, orders, window_args, tmp_path):
    cc.backup(to=tmp_path / "bk", **window_args)
    window = cc.open_backup(tmp_path / "bk").windows()[0]
    (tmp_path / "bk" / window.database / "orders" / window.data).unlink()
    with pytest.raises(cc.NotFoundError) as caught:
        list(window.read())
    assert caught.value.code_name == "ENOTFOUND" and window.data in str(caught.value)


def test_throttling_that_outlasts_the_retries_is_a_throttled_error(cc, orders, window_args,
                                                                   tmp_path, cosmos_proxy,
                                                                   ferretdb):
    proxy = cosmos_proxy(ferretdb, ru_per_second=0, retry_after_ms=5)
    args = dict(window_args, source=f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true")
    with pytest.raises(cc.ThrottledError) as caught:
        cc.backup(to=tmp_path / "bk", retry_budget=2, retry_base_ms=5, **args)
    err = caught.value
    assert err.code_name == "ETHROTTLED" and err.cause == 16500 and err.domain == "mongo"
    assert proxy.counters()["throttled"] >= 3


def test_a_destination_that_cannot_be_written_is_a_sink_error(cc, orders, window_args,
                                                              tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(cc.Error) as caught:
        cc.backup(to=f"dir:{blocker}/bk", **window_args)
    assert isinstance(caught.value, (cc.SinkError, cc.UsageError))
    assert str(blocker) in str(caught.value)


def test_a_second_writer_is_busy(cc, orders, window_args, tmp_path):
    with cc.Job("backup", to=tmp_path / "bk", **window_args) as first:
        first.plan()
        with pytest.raises(cc.BusyError) as caught:
            cc.backup(to=tmp_path / "bk", **window_args)
        assert caught.value.code_name == "EBUSY"
        first.run()


def test_credentials_the_server_refuses_are_an_authentication_error(cc, orders, window_args,
                                                                     ferretdb, tmp_path):
    uri = ferretdb.uri.replace("mongodb://", f"mongodb://app:{PASSWORD}@")
    with cc.Job("backup", to=tmp_path / "bk", **dict(window_args, source=uri)) as job:
        with pytest.raises(cc.AuthenticationError) as caught:
            job.plan()
    err = caught.value
    assert err.code_name == "EAUTH" and err.domain == "mongo"
    assert "authentication failed" in str(err)
    # planning failed, so the job ended: its result is final, not "running"
    assert err.result.status == "failed" and err.result.error.code == "EAUTH"
    assert PASSWORD not in str(err) + repr(err) + repr(job) + str(err.result.to_dict())


def test_no_secret_in_results_task_specs_reprs_or_log_records(cc, orders, window_args, azurite,
                                                              blob_container, caplog):
    url = azurite.sas_url(blob_container.container_name, "s")
    sig = url.split("sig=")[1].split("&")[0]
    with caplog.at_level(logging.DEBUG):
        with cc.Job("backup", to=url, **window_args) as job:
            tasks = job.plan()
            result = job.run()
        backup = cc.open_backup(url)
        listing = cc.list_windows(url)
    shown = [repr(job), repr(result), str(result.to_dict()), repr(backup), repr(listing),
             str(listing.to_dict()), caplog.text, *(t.spec for t in tasks), *map(repr, tasks)]
    assert result.windows_written == 3
    assert "sig=****" in result.to_dict()["sink"]
    for text in shown:
        assert sig not in text and azurite.account_key not in text


# ------------------------------------------------------------------ numbers, durations, names

UNREACHABLE = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"


def _refused(cc, call, *words):
    """``call()`` raises the usage error whose message has every word (and no secret)."""
    with pytest.raises(cc.UsageError) as caught:
        call()
    err = caught.value
    assert err.code_name == "EINVAL", repr(err)
    for w in words:
        assert w in str(err), str(err)
    assert PASSWORD not in str(err) + repr(err) and "SECRETSIG" not in str(err) + repr(err)
    return err


@pytest.mark.parametrize("keyword, value, reason", [
    ("from_", float("nan"), "finite"),
    ("from_", float("inf"), "finite"),
    ("until", float("-inf"), "finite"),
    ("until", float("nan"), "finite"),
    ("from_", 1e300, "last second an ObjectId can hold"),
    ("from_", 10**30, "last second an ObjectId can hold"),
    ("until", -1, "before 1970-01-01"),
])
def test_a_number_no_time_can_be_is_a_usage_error_naming_the_argument(cc, tmp_path, keyword,
                                                                      value, reason):
    other = {"from_": START, "until": START + HOUR}
    other[keyword] = value
    _refused(cc, lambda: cc.backup(source=UNREACHABLE, db="d", to=tmp_path / "bk", **other),
             f"backup({keyword}=", reason)
    _refused(cc, lambda: cc.restore(from_=tmp_path / "bk", to=UNREACHABLE, until=value),
             "restore(until=", reason)
    plan_kw = {"from_": "from_", "until": "to"}[keyword]
    plan_args = {"from_": START, "to": START + HOUR, plan_kw: value}
    _refused(cc, lambda: cc.plan(**plan_args), f"plan({plan_kw}=", reason)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, words", [
    (dict(step=10**30), ["backup(step=", "above the maximum 4294967296s"]),
    (dict(step=2**32 + 1), ["backup(step=", "above the maximum 4294967296s"]),
    (dict(step=dt.timedelta(days=999999999)), ["backup(step=", "above the maximum 4294967296s"]),
    (dict(step=dt.timedelta(hours=-1)), ["backup(step=", "below the minimum 1s"]),
    (dict(step=float("inf")), ["backup(step=inf)", "whole seconds"]),
    (dict(step=1.5), ["backup(step=1.5)", "whole seconds"]),
    (dict(settle_lag=dt.timedelta(milliseconds=500)), ["backup(settle_lag=", "whole seconds",
                                                        "0.5s"]),
    (dict(settle_lag=dt.timedelta(seconds=90.25)), ["backup(settle_lag=", "whole seconds"]),
    (dict(settle_lag=float("nan")), ["backup(settle_lag=nan)", "whole seconds"]),
    (dict(settle_lag=10**30), ["backup(settle_lag=", "above the maximum 604800s"]),
    (dict(batch_size=10**30), ["backup(batch_size=", "above the maximum 100000"]),
    (dict(batch_size=float("nan")), ["backup(batch_size=nan)", "whole number"]),
    (dict(max_ru=1e3), ["backup(max_ru=1000.0)", "whole number"]),
])
def test_durations_and_counts_are_whole_and_within_bounds(cc, tmp_path, kwargs, words):
    _refused(cc, lambda: cc.backup(source=UNREACHABLE, db="d", to=tmp_path / "bk", **kwargs),
             *words)
    assert list(tmp_path.iterdir()) == []


def test_whole_second_timedeltas_are_taken_exactly(cc, tmp_path):
    with cc.Job("backup", source=UNREACHABLE, db="d", to=tmp_path / "bk",
                settle_lag=dt.timedelta(minutes=1, seconds=30), step=dt.timedelta(hours=6)):
        pass
    assert cc.plan(from_=START, to=START + 12 * HOUR, step=dt.timedelta(hours=6)) == \
        cc.plan(from_=START, to=START + 12 * HOUR, step="6h")


@pytest.mark.parametrize("step, words", [
    (10**30, ["plan(step=", "above the maximum 4294967296s"]),
    (2**32 + 1, ["plan(step=4294967297)", "above the maximum 4294967296s"]),
    (dt.timedelta(days=999999999), ["plan(step=", "above the maximum 4294967296s"]),
    (dt.timedelta(milliseconds=500), ["plan(step=", "whole seconds"]),
    (float("nan"), ["plan(step=nan)", "whole seconds"]),
])
def test_plan_refuses_a_step_out_of_range_naming_it(cc, step, words):
    _refused(cc, lambda: cc.plan(from_="2026-01-01", to="2026-01-02", step=step), *words)


@pytest.mark.parametrize("pace", [float("nan"), float("inf"), -1,
                                  pytest.param(10**400, id="10**400"), "fast"])
def test_set_pace_refuses_what_is_no_pace(cc, tmp_path, pace):
    with cc.Job("backup", source=UNREACHABLE, db="d", to=tmp_path / "bk") as job:
        err = _refused(cc, lambda: job.set_pace(pace), "set_pace(ru_per_second=")
        assert isinstance(err, TypeError) == isinstance(pace, str)
        job.set_pace(250.0)


SAS_NO_CONTAINER = "https://127.0.0.1:1/devstoreaccount1?sv=2020-01-01&sig=SECRETSIG"


@pytest.mark.parametrize("call, words", [
    (lambda cc, d: cc.backup(source=UNREACHABLE, db="d", to=5),
     ["backup(to=5): a time: the end of the range", "the destination is missing"]),
    (lambda cc, d: cc.backup(source=UNREACHABLE, db="d", to=b"dir:/x"),
     ["backup(to=****): ", "bytes is not a value for sink"]),
    (lambda cc, d: cc.backup(source=UNREACHABLE, db="d", to=SAS_NO_CONTAINER),
     ["backup(to=****): ", "names no container"]),
    (lambda cc, d: cc.restore(from_=SAS_NO_CONTAINER, to=UNREACHABLE),
     ["restore(from_=****): ", "names no container"]),
    (lambda cc, d: cc.verify(source=UNREACHABLE, db="d", backup="nowhere"),
     ["verify(backup=****): ", "unsupported destination"]),
    (lambda cc, d: cc.list_windows(SAS_NO_CONTAINER), ["list_windows(from_=****): "]),
    (lambda cc, d: cc.open_backup(SAS_NO_CONTAINER), ["open_backup(location=****): "]),
    (lambda cc, d: cc.list_windows("azblob://ccc", blob_connection_string="kv://vault"),
     ["list_windows(blob_connection_string=****): ", "names no secret"]),
    # found once the job plans (the engine reads the connection string then)
    (lambda cc, d: cc.backup(source=5, db="d", to=d), ["backup(source=****): ", "malformed"]),
    (lambda cc, d: cc.replicate(source=UNREACHABLE, db="d", target="kv://vault"),
     ["replicate(target=****): ", "names no secret"]),
])
def test_engine_messages_name_the_keyword_the_caller_typed(cc, tmp_path, call, words):
    err = _refused(cc, lambda: call(cc, tmp_path / "bk"), *words)
    assert "option " not in str(err)


def test_replicating_onto_itself_names_the_keywords(cc, orders, ferretdb, db_name):
    err = _refused(cc, lambda: cc.replicate(source=ferretdb.uri, db=db_name, collection="orders",
                                            target=ferretdb.uri),
                   "target_db= or target_collection=")
    assert "option " not in str(err)


@pytest.mark.parametrize("decode", [5, "yes", None, 1.0])
def test_read_refuses_a_decode_that_is_neither_a_flag_nor_a_function(cc, orders, window_args,
                                                                     tmp_path, decode):
    cc.backup(to=tmp_path / "bk", **window_args)
    backup = cc.open_backup(tmp_path / "bk")
    window = backup.windows()[0]
    for call in (lambda: window.read(decode=decode), lambda: backup.read(decode=decode)):
        err = _refused(cc, call, f"read(decode={decode!r})")
        assert isinstance(err, TypeError)


@pytest.mark.parametrize("call, words", [
    (lambda cc, d: cc.backup(source=UNREACHABLE, db="shop\x00other", to=d),
     ["backup(db='shop\\x00other')", "NUL"]),
    (lambda cc, d: cc.backup(source=UNREACHABLE, db="shop\udc80", to=d),
     ["backup(db=", "not valid Unicode"]),
    (lambda cc, d: cc.backup(source=UNREACHABLE + "\x00", db="d", to=d),
     ["backup(source=****)", "NUL"]),
    (lambda cc, d: cc.list_windows(f"dir:{d}\x00/elsewhere"), ["list_windows(from_=****)", "NUL"]),
    (lambda cc, d: cc.plan(from_="2026-01-01\x00", to="2026-01-02"), ["plan(from_=", "NUL"]),
    (lambda cc, d: cc.plan(from_="2026-01-01", to="2026-01-02", step="4h\x00"),
     ["plan(step=", "NUL"]),
])
def test_text_the_engine_would_cut_short_is_refused(cc, tmp_path, call, words):
    _refused(cc, lambda: call(cc, tmp_path), *words)
    assert list(tmp_path.iterdir()) == []

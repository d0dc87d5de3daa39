"""`cosmocopy plan`: the windows of a range, exactly, and clear refusals."""

from __future__ import annotations

import pytest

import clirun

# 2026-01-01T00:00:00Z is 1767225600.
FOUR_WINDOWS = [
    {"start": "2026-01-01T01:30:00Z", "end": "2026-01-01T04:00:00Z",
     "start_epoch": 1767231000, "end_epoch": 1767240000,
     "lo": "6955ce180000000000000000", "hi": "6955f1400000000000000000"},
    {"start": "2026-01-01T04:00:00Z", "end": "2026-01-01T08:00:00Z",
     "start_epoch": 1767240000, "end_epoch": 1767254400,
     "lo": "6955f1400000000000000000", "hi": "695629800000000000000000"},
    {"start": "2026-01-01T08:00:00Z", "end": "2026-01-01T12:00:00Z",
     "start_epoch": 1767254400, "end_epoch": 1767268800,
     "lo": "695629800000000000000000", "hi": "695661c00000000000000000"},
    {"start": "2026-01-01T12:00:00Z", "end": "2026-01-01T13:10:00Z",
     "start_epoch": 1767268800, "end_epoch": 1767273000,
     "lo": "695661c00000000000000000", "hi": "695672280000000000000000"},
]


def test_the_bounds_are_the_epoch_as_8_hex_digits_and_16_zeros():
    # Guard the hand-written table above against a typo.
    for w in FOUR_WINDOWS:
        assert w["lo"] == f"{w['start_epoch']:08x}" + "0" * 16
        assert w["hi"] == f"{w['end_epoch']:08x}" + "0" * 16


@pytest.mark.parametrize("frm,to", [("2026-01-01T01:30:00Z", "2026-01-01T13:10:00Z"),
                                    ("@1767231000", "@1767273000")])
def test_plan_json_cuts_at_multiples_of_the_step(frm, to):
    res = clirun.run("plan", "--from", frm, "--to", to, "--step", "4h", "--json")
    assert res.rc == 0, res.explain()
    assert res.summary == {"windows": FOUR_WINDOWS}


def test_plan_text_lists_each_window_with_its_bounds():
    res = clirun.run("plan", "--from", "2026-01-01T01:30:00Z", "--to", "2026-01-01T13:10:00Z",
                     "--step", "4h")
    assert res.rc == 0, res.explain()
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert len(lines) == 4, res.stdout
    for line, w in zip(lines, FOUR_WINDOWS):
        for key in ("start", "end", "lo", "hi"):
            assert w[key] in line, f"{key} {w[key]} missing from {line!r}"


def test_plan_default_step_is_4h():
    res = clirun.run("plan", "--from", "2026-01-01T01:30:00Z", "--to", "2026-01-01T13:10:00Z",
                     "--json")
    assert res.rc == 0, res.explain()
    assert res.summary == {"windows": FOUR_WINDOWS}


def test_plan_reaches_the_last_second_an_objectid_can_hold():
    res = clirun.run("plan", "--from", "2106-02-07T04:00:00Z", "--to", "2106-02-07T06:28:15Z",
                     "--json")
    assert res.rc == 0, res.explain()
    assert res.summary == {"windows": [
        {"start": "2106-02-07T04:00:00Z", "end": "2106-02-07T06:28:15Z",
         "start_epoch": 4294958400, "end_epoch": 4294967295,
         "lo": "ffffdd400000000000000000", "hi": "ffffffff0000000000000000"}]}


def test_plan_one_day_step_from_the_epoch():
    res = clirun.run("plan", "--from", "@0", "--to", "1970-01-03T00:00:00Z", "--step", "1d",
                     "--json")
    assert res.rc == 0, res.explain()
    assert [(w["start_epoch"], w["end_epoch"], w["lo"]) for w in res.summary["windows"]] == \
        [(0, 86400, "0" * 24), (86400, 172800, "00015180" + "0" * 16)]


BAD = [
    # (arguments, text the message must contain)
    (["--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], "2026-01-02T00:00:00Z"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], "2026-01-01T00:00:00Z"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z", "--step", "0"], "step 0"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z", "--step", "-4h"], "-4h"),
    (["--from", "1969-12-31T23:59:59Z", "--to", "2026-01-01T00:00:00Z"], "1969-12-31T23:59:59Z"),
    (["--from", "2106-02-07T00:00:00Z", "--to", "2106-02-07T06:28:16Z"], "2106-02-07T06:28:16Z"),
    (["--from", "2106-02-07T06:28:16Z", "--to", "2106-02-08T00:00:00Z"], "2106-02-07T06:28:16Z"),
    (["--from", "2026-13-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z"], "2026-13-01T00:00:00Z"),
    (["--from", "yesterday", "--to", "now"], "yesterday"),
    (["--from", "2026-01-01 00:00", "--to", "now"], "2026-01-01 00:00"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z", "--step", "4x"], "4x"),
    (["--from", "@-1", "--to", "@100"], "@-1"),
    (["--from", "@4294967296", "--to", "@4294967297"], "@4294967296"),
    (["--to", "2026-01-02T00:00:00Z"], "--from"),
    # more windows than a plan may hold (it used to allocate 69 GB and abort)
    (["--from", "1970-01-01", "--to", "2100-01-01", "--step", "1s"],
     "--step: 1s cuts the range into 4102444800 windows, more than the 1000000 a plan may hold"),
]


@pytest.mark.parametrize("args,named", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_plan_rejects_bad_input_naming_it(args, named):
    res = clirun.run("plan", *args)
    assert res.rc == 2, res.explain()
    assert res.stdout == "", res.explain()
    assert named in res.stderr, f"the message does not name {named!r}:\n{res.stderr}"


def test_plan_says_why_a_range_is_refused():
    res = clirun.run("plan", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z")
    assert res.rc == 2 and "before" in res.stderr, res.explain()
    res = clirun.run("plan", "--from", "1969-12-31T23:59:59Z", "--to", "2026-01-01T00:00:00Z")
    assert res.rc == 2 and "1970" in res.stderr, res.explain()
    res = clirun.run("plan", "--from", "2106-01-01T00:00:00Z", "--to", "2106-02-07T06:28:16Z")
    assert res.rc == 2 and "2106-02-07T06:28:15Z" in res.stderr, res.explain()

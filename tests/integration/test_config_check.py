"""tradingd -c FILE --check-config: every error as file:line:col: key: message on stderr and
exit 78 (EX_CONFIG); a valid file exits 0. The daemon itself refuses a bad file the same way
before it touches anything."""
import json
import os
import re
import subprocess

import pytest

from conftest import ROOT, binary

EX_CONFIG = 78
ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<key>\S+): (?P<msg>.+)$")


def where(text, needle, nth=0):
    """1-based line and column of the nth occurrence of needle in text."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def check(path, *extra):
    return subprocess.run([binary("tradingd"), "-c", str(path), "--check-config", *extra],
                          capture_output=True, text=True, timeout=10)


def errors_of(res):
    lines = res.stderr.splitlines()
    parsed = [ERROR_LINE.match(l) for l in lines]
    assert lines and all(parsed), f"not file:line:col lines: {res.stderr!r}"
    return [(m["file"], int(m["line"]), int(m["col"]), m["key"], m["msg"]) for m in parsed]


@pytest.fixture
def write(tmp_path):
    def make(text, name="tradingd.json"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return make


def test_shipped_example_is_valid():
    res = check(os.path.join(ROOT, "etc", "tradingd.json"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith(": valid") and res.stderr == ""


def test_minimal_and_full_files_are_valid(write):
    assert check(write("{}\n")).returncode == 0
    full = {"mode": "paper", "user": "nobody", "control_group": "daemon",
            "data_dir": "/var/lib/tradingd", "run_dir": "/run/tradingd", "log_level": "debug",
            "supervisor": {"stop_timeout_ms": 100, "heartbeat_interval_ms": 50,
                           "heartbeat_timeout_ms": 100, "crashloop_max_restarts": 1},
            "clock": {"start": "2026-01-05T08:59:00+09:00", "rate": 60},
            "market_data": {"markets": ["KRW-BTC"]}}
    res = check(write(json.dumps(full, indent=2)))
    assert res.returncode == 0, res.stderr


def test_truncated_json(write):
    text = '{\n  "mode": "sim",\n  "supervisor": {\n    "stop_timeout_ms": 3000\n'
    path = write(text)
    res = check(path)
    assert res.returncode == EX_CONFIG
    [(file, line, col, key, msg)] = errors_of(res)
    assert file == str(path) and key == "(syntax)"
    assert line >= 4 and "end of file" in msg, res.stderr


def test_trailing_comma(write):
    text = '{\n  "mode": "sim",\n  "supervisor": {"stop_timeout_ms": 3000,}\n}\n'
    res = check(write(text))
    assert res.returncode == EX_CONFIG
    [(_, line, col, key, _)] = errors_of(res)
    assert key == "(syntax)"
    comma_line, comma_col = where(text, ",}")
    assert (line, col) == (comma_line, comma_col + 1), res.stderr  # the "}" after the comma


def test_unknown_nested_key_points_at_the_key(write):
    text = ('{\n  "mode": "sim",\n  "supervisor": {\n    "stop_timeout_ms": 3000,\n'
            '    "stop_timeot_ms": 3000\n  }\n}\n')
    path = write(text)
    res = check(path)
    assert res.returncode == EX_CONFIG
    assert res.stderr == f"{path}:5:5: supervisor.stop_timeot_ms: unknown key\n"
    assert where(text, '"stop_timeot_ms"') == (5, 5)


@pytest.mark.parametrize("value,needle", [
    ('"3000"', "expected an integer, got a string"),
    ("3000.5", "expected an integer, got a number"),
    ("null", "expected an integer, got null"),
])
def test_wrong_type(write, value, needle):
    text = '{\n  "supervisor": {\n    "heartbeat_timeout_ms": %s\n  }\n}\n' % value
    [(_, line, col, key, msg)] = errors_of(check(write(text)))
    assert key == "supervisor.heartbeat_timeout_ms" and msg == needle
    assert (line, col) == where(text, '"heartbeat_timeout_ms"')


def test_wrong_type_of_object_and_enum(write):
    text = '{\n  "supervisor": 5,\n  "mode": "real"\n}\n'
    res = check(write(text))
    assert res.returncode == EX_CONFIG
    errs = {e[3]: e for e in errors_of(res)}
    assert errs["supervisor"][4] == "expected an object, got an integer"
    assert errs["supervisor"][1:3] == where(text, '"supervisor"')
    assert errs["mode"][4] == '"real" is not one of sim|paper|live'
    assert errs["mode"][1:3] == where(text, '"mode"')


@pytest.mark.parametrize("key,value,msg", [
    ("stop_timeout_ms", 99, "99 is out of range [100, 600000]"),
    ("crashloop_max_restarts", 0, "0 is out of range [1, 100000]"),
    ("backoff_max_ms", 3600001, "3600001 is out of range [1, 3600000]"),
])
def test_out_of_range(write, key, value, msg):
    text = '{\n  "log_level": "info",\n  "supervisor": {"%s": %d}\n}\n' % (key, value)
    [(_, line, col, k, m)] = errors_of(check(write(text)))
    assert (k, m) == (f"supervisor.{key}", msg)
    assert (line, col) == where(text, f'"{key}"')


def test_every_error_is_reported_not_just_the_first(write):
    text = ('{\n  "mode": "sim",\n  "bogus": 1,\n  "supervisor": {\n'
            '    "stop_timeout_ms": -1,\n    "heartbeat_interval_ms": "x"\n  }\n}\n')
    errs = errors_of(check(write(text)))
    assert sorted(e[3] for e in errs) == ["bogus", "supervisor.heartbeat_interval_ms",
                                          "supervisor.stop_timeout_ms"]
    for e in errs:
        assert e[1:3] == where(text, '"%s"' % e[3].split(".")[-1]), e


def test_test_clock_refused_in_live_mode(write, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("a:b\n")
    keys.chmod(0o600)
    text = ('{\n  "mode": "live",\n  "exchange": {"keys_file": "%s"},\n'
            '  "clock": {\n    "start": "2026-01-05T08:59:00+09:00"\n  }\n}\n' % keys)
    [(_, line, col, key, msg)] = errors_of(check(write(text)))
    assert key == "clock" and "live" in msg
    assert (line, col) == where(text, '"clock"')
    # The same clock is fine in paper mode.
    assert check(write(text.replace('"live"', '"paper"'))).returncode == 0


def test_cross_key_rule(write):
    text = '{\n  "supervisor": {\n    "heartbeat_interval_ms": 500,\n' \
           '    "heartbeat_timeout_ms": 500\n  }\n}\n'
    [(_, line, col, key, msg)] = errors_of(check(write(text)))
    assert key == "supervisor.heartbeat_timeout_ms" and "heartbeat_interval_ms" in msg
    assert (line, col) == where(text, '"heartbeat_timeout_ms"')


def test_missing_file(tmp_path):
    res = check(tmp_path / "absent.json")
    assert res.returncode == EX_CONFIG
    assert "absent.json" in res.stderr and "cannot open" in res.stderr


def test_daemon_refuses_a_bad_file_before_touching_anything(write, tmp_path):
    text = ('{\n  "data_dir": "%s",\n  "run_dir": "%s",\n  "supervisor": {\n'
            '    "stop_timeot_ms": 3000\n  }\n}\n' % (tmp_path / "data", tmp_path / "run"))
    path = write(text)
    res = subprocess.run([binary("tradingd"), "-c", str(path)], capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == EX_CONFIG, res
    assert res.stderr == f"{path}:5:5: supervisor.stop_timeot_ms: unknown key\n"
    assert res.stderr == check(path).stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists()


ACCOUNTS_20 = json.dumps([f"ak{i}:sk{i}:1000" for i in range(20)])


@pytest.mark.parametrize("body, key, needle", [
    ('"sim": {"listen": "127.0.0.1:abc"}', "sim.listen", '"listen"'),
    ('"sim": {"listen": "[::1]:99999"}', "sim.listen", '"listen"'),
    ('"sim": {"accounts": ' + ACCOUNTS_20 + '}', "sim.accounts", '"accounts"'),
    ('"user": "no-such-account-here"', "user", '"user"'),
    ('"user": "root"', "user", '"user"'),
    ('"control_group": "no-such-group-here"', "control_group", '"control_group"'),
])
def test_what_check_config_passes_starts(write, body, key, needle):
    """Each of these once passed --check-config and then failed at run time."""
    text = '{\n  "mode": "sim",\n  ' + body + '\n}\n'
    res = check(write(text))
    assert res.returncode == EX_CONFIG, res
    (file, line, col, got, _msg), = errors_of(res)
    assert got == key and (line, col) == where(text, needle), (res.stderr, where(text, needle))


def test_a_nul_byte_and_a_directory_are_named(write, tmp_path):
    path = tmp_path / "nul.json"
    path.write_bytes(b'{\n  "mode": "sim"\0\n}\n')
    res = check(path)
    assert res.returncode == EX_CONFIG
    (_f, line, col, key, msg), = errors_of(res)
    assert (line, col, key) == (2, 16, "(syntax)") and "NUL" in msg
    res = check(tmp_path)
    assert res.returncode == EX_CONFIG and "is a directory" in res.stderr, res

"""Log lines name their process role, the simulator's included; under journald (JOURNAL_STREAM)
they carry <N> priority prefixes instead of timestamps."""
import re

ROLES = {"tradingd", "notifier", "maintenance", "market-data", "order-execution", "strategy",
         "upbit-sim"}


def lines_of(text):
    return [line for line in text.splitlines() if line]


def test_plain_lines_have_timestamp_level_and_role(daemon):
    daemon.stop()
    pattern = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([a-z-]+)\[(\w+)\] \1: ")
    seen = set()
    for line in lines_of(daemon.log_text()):
        m = pattern.match(line)
        assert m, line  # every line, the simulator's too
        seen.add(m.group(1))
    assert ROLES <= seen, f"roles seen: {seen}"


def test_journald_lines_have_priority_prefixes(daemon_factory):
    d = daemon_factory(env={"JOURNAL_STREAM": "8:12345"}).start()
    d.stop()
    ours = lines_of(d.log_text())
    assert ours, d.log_text()[-2000:]
    pattern = re.compile(r"^<([0-7])>([a-z-]+): ")
    roles = set()
    for line in ours:
        m = pattern.match(line)
        assert m, line
        roles.add(m.group(2))
    assert ROLES <= roles
    # notice (5) for the start banner, info (6) for routine lines
    assert any(l.startswith("<5>tradingd: tradingd ") for l in ours)
    assert any(l.startswith("<5>upbit-sim: listening on ") for l in ours)

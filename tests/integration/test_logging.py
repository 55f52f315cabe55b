"""Log lines name their process role, the simulator's included; under journald (JOURNAL_STREAM)
they carry <N> priority prefixes instead of timestamps."""
import re

ROLES = {"tradingd", "notifier", "maintenance", "market-data", "order-execution", "strategy",
         "upbit-sim"}


def lines_of(text):
    return [line for line in text.splitlines() if line]


def test_plain_lines_have_timestamp_level_and_role(daemon):
    daemon.stop()
    pattern = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([a-z-]+)\[(\w+)\]: (.*)")
    seen = set()
    for line in lines_of(daemon.log_text()):
        m = pattern.match(line)
        assert m, line  # every line, the simulator's too
        seen.add(m.group(1))
        # The role once per line: not "tradingd[info]: tradingd: ..."
        assert not m.group(3).startswith(m.group(1) + ": "), line
    assert ROLES <= seen, f"roles seen: {seen}"


def test_the_banner_comes_first_and_every_exit_is_logged(daemon_factory):
    d = daemon_factory().start()
    first = d.log_text().splitlines()[0]
    assert "tradingd[notice]: tradingd " in first and "starting" in first, first
    assert d.log_text().index("starting (mode sim") < d.log_text().index("schema migrated")
    d.ctl("restart", "maintenance", check=True)
    d.wait_state("maintenance", "RUNNING")
    d.stop()
    text = d.log_text()
    assert "maintenance: stopped (" in text
    for name in ("strategy", "order-execution", "market-data", "notifier"):
        assert f"{name}: stopped (" in text, name


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

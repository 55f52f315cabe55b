"""The scheduler on the test clock: a simulated week fires each job exactly as often as its
schedule says, dependants after their dependencies; a failing job is retried with growing
delays, then its fallback runs and an alert is written; a permanent failure is not retried;
changes and rollbacks are audited; a kill -9 neither repeats nor loses a run, and a clock step
of an hour across the restart gives one catch-up; monitor_group may read but not change."""
import grp
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import binary, pids_of, wait_for, wait_gone

WEEK_MS = 7 * 86400 * 1000
START = "2026-01-05T00:30:00+09:00"  # a Monday, 2026-01-04T15:30:00Z
START_MS = 1767540600000


def rows(d, sql, *args):
    # Read-write: a read-only reader cannot rebuild the WAL index the daemon left.
    db = sqlite3.connect(f"{d.dir}/data/tradingd.db", timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def jobs_json(d):
    res = d.ctl("--json", "jobs", check=True)
    return {j["name"]: j for j in json.loads(res.stdout)["jobs"]}


def test_simulated_week_fires_each_job_exactly_as_scheduled(daemon_factory):
    grace = 86400000  # the machine is shared: a late timer must not turn into a miss
    defs = {
        "check": {"schedule": "0 * * * *", "worker": "supervisor", "action": "system_check",
                  "misfire_grace_ms": grace, "priority": 90, "coalesce": False},
        "first": {"schedule": "0 0 * * *", "worker": "maintenance", "action": "checkpoint",
                  "misfire_grace_ms": grace, "coalesce": False},
        "second": {"schedule": "0 0 * * *", "worker": "maintenance", "action": "checkpoint",
                   "depends_on": ["first"], "misfire_grace_ms": grace, "priority": 99,
                   "coalesce": False},
    }
    d = daemon_factory(overrides={"clock": {"start": START, "rate": 30000},
                                  "jobs": {"defs": defs}}).start()
    # The maintenance worker runs at a lower CPU and I/O priority (roles.c), trading does not.
    maint = d.status()["maintenance"]["pid"]
    assert int(open(f"/proc/{maint}/stat").read().rsplit(")", 1)[1].split()[16]) == 10
    assert int(open(f"/proc/{d.status()['strategy']['pid']}/stat").read()
               .rsplit(")", 1)[1].split()[16]) == 0
    if shutil.which("ionice"):
        io = subprocess.run(["ionice", "-p", str(maint)], capture_output=True, text=True)
        assert io.stdout.strip() == "best-effort: prio 7", io
    now = lambda: json.loads(d.ctl("--json", "jobs", check=True).stdout)  # noqa: E731
    wait_for(lambda: min(j["next_ms"] for j in now()["jobs"]) > START_MS + WEEK_MS,
             timeout=45, interval=0.5, what="a simulated week")
    wait_for(lambda: rows(d, "SELECT COUNT(*) FROM job_runs WHERE due_ms <= ? AND state IN "
                             "('queued', 'running', 'retry')", START_MS + WEEK_MS) == [(0,)],
             timeout=10, what="the week's runs to end")
    assert d.stop() == 0
    # A due time after the stop may be planned ahead already (jobs.plan_ahead_ms): not counted.
    hourly = rows(d, "SELECT due_ms, state, reason FROM job_runs WHERE job='check' AND NOT "
                     "(state='queued' AND reason='planned') ORDER BY due_ms")
    dues = [r[0] for r in hourly]
    # The first hour after the scheduler started (the daemon's clock ran from the config's load).
    # (At 30000x an hour is 0.12 s: a start slowed by ASan on a loaded machine may take a few.)
    assert dues[0] % 3600000 == 0 and START_MS < dues[0] <= START_MS + 12 * 3600000
    expected = list(range(dues[0], dues[0] + len(dues) * 3600000, 3600000))
    lost = sorted(set(expected) - set(dues))
    warnings = [line for line in d.log_text().splitlines() if "tradingd[warn]" in line or
                any(f"due {x}" in line for x in lost[:2])]
    assert dues == list(range(dues[0], dues[0] + len(dues) * 3600000, 3600000)), warnings
    # Every hour up to the end of the week: next_ms was past it when we stopped.
    assert START_MS + WEEK_MS - 3600000 < dues[-1]
    assert all(r[1] == "ok" for r in hourly), [r for r in hourly if r[1] != "ok"]
    for name in ("first", "second"):
        # The clock runs on between the week's end and the stop: count the week's only.
        daily = rows(d, "SELECT due_ms, state, reason FROM job_runs WHERE job=? AND due_ms <= ? "
                        "ORDER BY due_ms", name, START_MS + WEEK_MS)
        days = [r[0] for r in daily]
        midnight = START_MS + 86400000 - 30 * 60000  # 2026-01-06T00:00+09:00
        assert days == list(range(midnight, midnight + len(days) * 86400000, 86400000))
        assert START_MS + WEEK_MS - 86400000 < days[-1] and len(days) == 7
        assert all(r[1] == "ok" for r in daily), daily
    # second has the higher priority but depends on first: it always started after first ended.
    order = rows(d, "SELECT a.ended_ms, b.started_ms FROM job_runs a JOIN job_runs b "
                    "ON a.due_ms = b.due_ms WHERE a.job='first' AND b.job='second'")
    assert order and all(b >= a for a, b in order), order
    # No due time twice: the ledger's key.
    assert rows(d, "SELECT COUNT(*) FROM job_runs GROUP BY job, due_ms HAVING COUNT(*) > 1") == []


def test_retries_grow_then_fallback_runs_and_change_is_audited(daemon_factory):
    defs = {
        "flaky": {"schedule": "0 0 1 1 *", "worker": "maintenance", "action": "checkpoint",
                  "retries": 2, "backoff_ms": 1000, "backoff_max_ms": 60000, "jitter": 0,
                  "fallback": "rescue", "deadline_ms": 2500},
        "rescue": {"schedule": "0 0 1 1 *", "worker": "supervisor", "action": "system_check"},
    }
    d = daemon_factory(overrides={"clock": {"start": START, "rate": 10},
                                  "jobs": {"defs": defs}},
                       env={"TRADINGD_FAULT": "maintenance:job-result:checkpoint:transient:3"})
    d.start()
    d.ctl("job", "run", "flaky", check=True)
    wait_for(lambda: rows(d, "SELECT state FROM job_runs WHERE job='rescue'") == [("ok",)],
             timeout=20, what="the fallback's run")
    (state, attempts, trigger), = rows(d, "SELECT state, attempts, trigger FROM job_runs "
                                          "WHERE job='flaky'")
    assert (state, attempts, trigger) == ("failed", 3, "manual")
    assert rows(d, "SELECT trigger FROM job_runs WHERE job='rescue'") == [("fallback",)]
    log = d.log_text()
    assert "retry in 1000 ms" in log and "retry in 2000 ms" in log
    alerts = rows(d, "SELECT text FROM notifications WHERE kind='job_failed'")
    assert len(alerts) == 1 and "flaky" in alerts[0][0] and "rescue" in alerts[0][0]
    # 1 s + 2 s of backoff pass its 2.5 s deadline: alerted too.
    late = rows(d, "SELECT text FROM notifications WHERE kind='job_deadline'")
    assert len(late) == 1 and "flaky" in late[0][0], late

    # The fault is used up: the next run succeeds at once.
    d.ctl("job", "run", "flaky", check=True)
    wait_for(lambda: ("ok",) in rows(d, "SELECT state FROM job_runs WHERE job='flaky'"),
             timeout=10, what="a good run")

    # Every change is a version of the whole schedule; a rollback restores a whole version.
    hist = lambda: json.loads(d.ctl("--json", "jobs", "history", check=True).stdout)["history"]  # noqa: E731
    assert [h["what"] for h in hist()] == ["start"]  # the base a first rollback returns to
    assert jobs_json(d)["flaky"]["priority"] == 50
    d.ctl("job", "set", "flaky", "priority=70", check=True)
    assert jobs_json(d)["flaky"]["priority"] == 70
    bad = d.ctl("job", "set", "flaky", "priority=500")
    assert bad.returncode == 1 and "priority" in bad.stderr + bad.stdout
    d.ctl("job", "pause", "rescue", check=True)
    assert jobs_json(d)["rescue"]["enabled"] is False
    # The default: the version before the latest (flaky 70, rescue enabled).
    d.ctl("jobs", "rollback", check=True)
    jobs = jobs_json(d)
    assert jobs["rescue"]["enabled"] is True and jobs["flaky"]["priority"] == 70
    # Version 1: both jobs as at the start, in one step.
    d.ctl("job", "pause", "rescue", check=True)
    res = json.loads(d.ctl("--json", "jobs", "rollback", "1", check=True).stdout)
    assert res["to"] == 1 and res["not_restored"] == []
    jobs = jobs_json(d)
    assert jobs["flaky"]["priority"] == 50 and jobs["rescue"]["enabled"] is True
    h = hist()
    assert [(x["version"], x["what"]) for x in h] == [
        (1, "start"), (2, "set"), (3, "pause"), (4, "rollback"), (5, "pause"), (6, "rollback")]
    assert h[3]["note"] == "to version 2" and h[5]["note"] == "to version 1"
    assert h[1]["changes"] == [{"job": "flaky", "before": {"priority": 50},
                                "after": {"priority": 70}}]
    assert sorted(c["job"] for c in h[5]["changes"]) == ["flaky", "rescue"]
    assert "flaky: priority 70 -> 50" in h[5]["summary"]
    assert all(x["uid"] == 0 for x in h[1:])  # the start: the daemon's own uid
    # Each version holds the effective settings of every job; schedule_audit the per-job rows.
    (sched6,), = rows(d, "SELECT schedule FROM schedule_versions WHERE id=6")
    assert json.loads(sched6) == json.loads(rows(d, "SELECT schedule FROM schedule_versions "
                                                   "WHERE id=1")[0][0])
    assert rows(d, "SELECT COUNT(*) FROM job_overrides") == [(0,)]
    assert rows(d, "SELECT COUNT(*) FROM schedule_audit WHERE what='rollback'")[0][0] == 3
    again = d.ctl("jobs", "rollback", "1")
    assert again.returncode == 1 and "already as at that version" in again.stderr

    # A schedule change through the config file and a reload (one version); a rollback across
    # it keeps the file as the base: the job the reload added is paused, the others return.
    d.config["jobs"]["defs"]["flaky"]["priority"] = 60
    d.config["jobs"]["defs"]["hourly"] = {"schedule": "0 * * * *", "worker": "supervisor",
                                          "action": "system_check", "zone": "Europe/Berlin"}
    d.config_path.write_text(json.dumps(d.config, indent=2))
    d.ctl("reload", check=True)
    jobs = jobs_json(d)
    assert jobs["flaky"]["priority"] == 60 and jobs["hourly"]["next_run"].endswith(":00+01:00")
    h = hist()
    assert h[-1]["what"] == "reload" and h[-1]["version"] == 7
    assert {c["job"]: (c["before"], c["after"] and c["after"].get("priority"))
            for c in h[-1]["changes"]} == {"flaky": ({"priority": 50}, 60), "hourly": (None, 50)}
    res = json.loads(d.ctl("--json", "jobs", "rollback", check=True).stdout)
    assert res["to"] == 6
    jobs = jobs_json(d)
    assert jobs["flaky"]["priority"] == 50 and jobs["hourly"]["enabled"] is False
    assert json.loads(rows(d, "SELECT settings FROM job_overrides WHERE job='flaky'")[0][0]) \
        == {"priority": 50}
    text = d.ctl("jobs", "history", check=True).stdout
    assert "rollback to version 6: flaky: priority 60 -> 50; hourly: enabled true -> false" \
        in text, text
    # Rolled forward again to the reload's version: the overrides go, the file is in force.
    d.ctl("jobs", "rollback", "7", check=True)
    jobs = jobs_json(d)
    assert jobs["flaky"]["priority"] == 60 and jobs["hourly"]["enabled"] is True
    assert rows(d, "SELECT COUNT(*) FROM job_overrides") == [(0,)]
    # A job the file removed since a version cannot come back: named, the rest restored.
    del d.config["jobs"]["defs"]["hourly"]
    d.config_path.write_text(json.dumps(d.config, indent=2))
    d.ctl("reload", check=True)
    d.ctl("job", "set", "flaky", "priority=65", check=True)
    res = json.loads(d.ctl("--json", "jobs", "rollback", "7", check=True).stdout)
    assert res["not_restored"] == ["hourly"] and jobs_json(d)["flaky"]["priority"] == 60
    assert set(jobs_json(d)) == {"flaky", "rescue"}
    assert d.ctl("jobs", "rollback", "99").returncode == 1
    d.config["jobs"]["defs"]["flaky"]["depends_on"] = ["flaky"]
    d.config_path.write_text(json.dumps(d.config, indent=2))
    bad = d.ctl("reload")
    assert bad.returncode == 1 and "dependency cycle: flaky -> flaky" in bad.stderr, bad
    assert set(jobs_json(d)) == {"flaky", "rescue"}


def test_permanent_failure_is_not_retried(daemon_factory):
    defs = {"fragile": {"schedule": "0 0 1 1 *", "worker": "maintenance",
                        "action": "checkpoint", "retries": 5, "backoff_ms": 1000}}
    d = daemon_factory(overrides={"clock": {"start": START, "rate": 10},
                                  "jobs": {"defs": defs}},
                       env={"TRADINGD_FAULT": "maintenance:job-result:checkpoint:permanent:1"})
    d.start()
    d.ctl("job", "run", "fragile", check=True)
    wait_for(lambda: rows(d, "SELECT state, attempts FROM job_runs") == [("failed", 1)],
             timeout=10, what="the permanent failure")
    assert "retry in" not in d.log_text()
    wait_for(lambda: rows(d, "SELECT COUNT(*) FROM notifications WHERE kind='job_failed'")
             == [(1,)], timeout=5, what="the alert")


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def test_kill9_neither_repeats_nor_loses_and_a_clock_step_gives_one_catch_up(daemon_factory):
    five = 300000
    defs = {
        "often": {"schedule": "*/5 * * * *", "worker": "supervisor", "action": "system_check",
                  "misfire_grace_ms": 3600000, "coalesce": False},
        # A checkpoint that meets the supervisor's commits is a transient failure: retried.
        "caught": {"schedule": "*/5 * * * *", "worker": "maintenance", "action": "checkpoint",
                   "misfire_grace_ms": 3600000, "coalesce": False, "catch_up": True,
                   "retries": 2, "backoff_ms": 1000, "jitter": 0},
    }
    d = daemon_factory(overrides={"clock": {"start": START, "rate": 600},
                                  "jobs": {"defs": defs}}).start()
    wait_for(lambda: rows(d, "SELECT COUNT(*) FROM job_runs WHERE state='ok'")[0][0] >= 10,
             timeout=20, what="runs before the kill")
    workers = list(pids_of(d.status()).values())
    d.proc.kill()  # kill -9 of the supervisor in the middle of the day
    d.proc.wait()
    wait_gone(workers, timeout=10)
    before = {job: rows(d, "SELECT MAX(due_ms) FROM job_runs WHERE job=?", job)[0][0]
              for job in defs}
    last = max(before.values())
    # Back one hour of daemon time later: the clock stepped while the daemon was down.
    step_to = last + 3600000
    d.config["clock"]["start"] = iso(step_to)
    d.config_path.write_text(json.dumps(d.config, indent=2))
    d.start()
    wait_for(lambda: rows(d, "SELECT COUNT(*) FROM job_runs WHERE job='often' AND due_ms>? "
                             "AND state='ok'", step_to)[0][0] >= 3,
             timeout=20, what="runs after the restart")
    d.stop()
    for job in defs:
        # A due time after the stop may be planned ahead already (jobs.plan_ahead_ms).
        got = rows(d, "SELECT due_ms, trigger, state, reason FROM job_runs WHERE job=? AND NOT "
                      "(state='queued' AND reason='planned') ORDER BY due_ms", job)
        dues = [r[0] for r in got]
        # One row for every due time from the first to the last: none twice, none lost.
        assert dues == list(range(dues[0], dues[-1] + five, five)), job
        outage = [r for r in got if before[job] < r[0] <= step_to]
        assert len(outage) == (step_to - before[job]) // five, (job, outage)
        catch_up = [r for r in got if r[1] == "catch_up"]
        if job == "caught":
            # The latest missed due time runs once; the others are MISSED with the reason.
            assert [(r[0], r[2]) for r in catch_up] == [(step_to, "ok")], got
            assert all(r[2] == "missed" and r[3] == "the daemon was not running"
                       for r in outage[:-1]), outage
        else:
            assert catch_up == []
            assert all(r[2] == "missed" and r[3] == "the daemon was not running"
                       for r in outage), outage
        # Before the kill everything ran, except a run the kill interrupted (recorded so), and
        # the next due time, planned ahead (jobs.plan_ahead_ms): it passed while the daemon
        # was down, and is never run late (it may have been dispatched just before the kill).
        for r in got:
            assert r[2] in ("ok", "missed"), r
            if r[2] == "missed" and r[0] < before[job]:
                assert r[3].startswith("interrupted"), r
            if r[2] == "missed" and r[0] == before[job]:
                assert r[3].startswith("interrupted") or r[3] == \
                    "the daemon was not running (planned ahead; not repeated)", r


def test_monitor_group_member_may_read_but_not_change_a_job(daemon_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another uid")
    gr = next((g for g in (grp.getgrnam(n) for n in ("daemon", "bin", "sys", "adm")
                           if n in {x.gr_name for x in grp.getgrall()})
               if g.gr_gid not in (0, 65534)), None)
    if gr is None:
        pytest.skip("no spare system group to use as monitor_group")
    defs = {"nightly": {"schedule": "0 0 * * *", "worker": "maintenance", "action": "checkpoint"}}
    d = daemon_factory(overrides={"monitor_group": gr.gr_name, "jobs": {"defs": defs}}).start()

    def as_member(*args, groups=(gr.gr_gid,)):
        return subprocess.run([binary("tradectl"), "-s", d.socket, *args], user=12345,
                              group=12345, extra_groups=list(groups), capture_output=True,
                              text=True, timeout=10)

    res = as_member("--json", "jobs")
    assert res.returncode == 0 and json.loads(res.stdout)["jobs"][0]["name"] == "nightly"
    assert as_member("status").returncode == 0
    for change in (("job", "pause", "nightly"), ("job", "set", "nightly", "priority=1"),
                   ("job", "run", "nightly"), ("jobs", "rollback"), ("shutdown",)):
        res = as_member(*change)
        assert res.returncode == 1, (change, res)
        assert "control_group" in res.stderr and "monitor_group may only read" in res.stderr
    assert jobs_json(d)["nightly"]["enabled"] is True
    assert [h["what"] for h in json.loads(d.ctl("--json", "jobs", "history", check=True)
                                          .stdout)["history"]] == ["start"]
    assert rows(d, "SELECT COUNT(*) FROM job_runs")[0][0] == 0
    # Without the group: refused by the peer's credentials.
    res = as_member("status", groups=())
    assert res.returncode == 1 and "permission denied" in res.stderr
    assert d.proc.poll() is None


def test_a_wall_clock_step_of_an_hour_gives_one_catch_up(daemon_factory):
    five = 300000
    defs = {"often": {"schedule": "*/5 * * * *", "worker": "supervisor",
                      "action": "system_check", "misfire_grace_ms": 3600000}}
    d = daemon_factory(overrides={"clock": {"start": START, "rate": 300},
                                  "jobs": {"defs": defs}},
                       env={"TRADINGD_FAULT": "tradingd:clock-step:3600000"}).start()
    wait_for(lambda: rows(d, "SELECT COUNT(*) FROM job_runs WHERE state='ok'")[0][0] >= 2,
             timeout=30, what="two runs before the step")
    before = rows(d, "SELECT MAX(due_ms) FROM job_runs")[0][0]
    d.proc.send_signal(signal.SIGUSR2)  # the test clock jumps one hour ahead
    wait_for(lambda: rows(d, "SELECT COUNT(*) FROM job_runs WHERE trigger='catch_up' AND "
                             "state='ok'")[0][0] == 1, timeout=20, what="the catch-up")
    jumped = re.compile(r"wall clock jumped by \+(3599|3600|3601) s")
    wait_for(lambda: jumped.search(d.log_text()), timeout=5, what="the log")
    got = rows(d, "SELECT due_ms, trigger, state, reason FROM job_runs WHERE due_ms > ? "
                  "ORDER BY due_ms", before)
    dues = [r[0] for r in got]
    assert dues == list(range(before + five, dues[-1] + five, five))
    catch_up = [r for r in got if r[1] == "catch_up"]
    assert len(catch_up) == 1, got
    skipped = [r for r in got if r[0] < catch_up[0][0]]
    assert len(skipped) >= 10, got  # about an hour of due times, each recorded
    assert all(r[2] == "missed" and jumped.match(r[3]) for r in skipped), skipped
    assert rows(d, "SELECT COUNT(*) FROM notifications WHERE kind='clock_jump'")[0][0] == 1

"""The scheduler under load and across DST, on the real binary: runs on two workers overlap in
time while one worker's queue goes by priority and, when full, records MISSED with its reason
and an alert; the DST gap and overlap policies in America/New_York on the test clock, against
the ledger; a due time planned ahead survives a kill -9 before it and runs once."""
import json
import sqlite3
import time

from conftest import pids_of, wait_for, wait_gone

GRACE = 86400000  # the machine is shared: a late timer must not turn into a miss
SLOW_MS = 1500    # TRADINGD_FAULT=any:job-delay: every worker run takes this long


def rows(d, sql, *args):
    db = sqlite3.connect(f"{d.dir}/data/tradingd.db", timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def jobs_json(d):
    res = d.ctl("--json", "jobs", check=True)
    return {j["name"]: j for j in json.loads(res.stdout)["jobs"]}


def once(worker, action, **kw):
    return {"schedule": "0 0 1 1 *", "worker": worker, "action": action, "timeout_ms": 30000,
            **kw}


def test_two_workers_overlap_and_a_busy_worker_queues_by_priority_then_misses(daemon_factory):
    defs = {
        "maint": once("maintenance", "checkpoint"),
        "strat": once("strategy", "check"),
        "low": once("maintenance", "checkpoint", priority=10),
        "high": once("maintenance", "checkpoint", priority=90),
        "extra": once("maintenance", "checkpoint", priority=100),
    }
    d = daemon_factory(overrides={"jobs": {"queue_max": 2, "defs": defs}},
                       env={"TRADINGD_FAULT": f"any:job-delay:{SLOW_MS}"}).start()
    d.ctl("job", "run", "maint", check=True)
    d.ctl("job", "run", "strat", check=True)
    wait_for(lambda: all(jobs_json(d)[j]["running"] == 1 for j in ("maint", "strat")),
             timeout=10, what="both runs started")
    # maintenance is busy: low, then high wait; the queue (2) is full for extra.
    d.ctl("job", "run", "low", check=True)
    d.ctl("job", "run", "high", check=True)
    full = d.ctl("job", "run", "extra")
    assert full.returncode == 1 and "queue full" in full.stderr, full
    wait_for(lambda: rows(d, "SELECT COUNT(*) FROM job_runs WHERE state IN ('queued', "
                             "'running', 'retry')") == [(0,)], timeout=30, what="the runs")
    got = {r[0]: r[1:] for r in rows(d, "SELECT job, state, started_ms, ended_ms, reason "
                                        "FROM job_runs")}
    assert set(got) == set(defs), got
    for job in ("maint", "strat", "low", "high"):
        assert got[job][0] == "ok", (job, got[job])
        assert got[job][2] - got[job][1] >= SLOW_MS - 50, (job, got[job])
    # Different workers: the two runs overlap in time.
    (_, m0, m1, _), (_, s0, s1, _) = got["maint"], got["strat"]
    assert m0 < s1 and s0 < m1, got
    assert min(m1, s1) - max(m0, s0) >= SLOW_MS // 2, got
    # One worker: one run at a time, the higher priority first though queued later.
    assert got["high"][1] >= m1 and got["low"][1] >= got["high"][2], got
    # The one the full queue refused: recorded MISSED with the reason, and alerted.
    assert got["extra"][0] == "missed" and got["extra"][3] == "queue full (jobs.queue_max)"
    alerts = rows(d, "SELECT text FROM notifications WHERE kind='job_queue_full'")
    assert len(alerts) == 1 and "extra" in alerts[0][0], alerts


def ms(iso):
    from datetime import datetime
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def dst_daemon(daemon_factory, start, defs):
    base = {"worker": "supervisor", "action": "system_check", "zone": "America/New_York",
            "misfire_grace_ms": GRACE, "coalesce": False}
    defs = {name: {**base, **spec} for name, spec in defs.items()}
    # One simulated hour a second.
    return daemon_factory(overrides={"clock": {"start": start, "rate": 3600},
                                     "jobs": {"defs": defs}}).start()


def ledger(d, job):
    return [r[0] for r in rows(d, "SELECT due_ms FROM job_runs WHERE job=? AND state='ok' "
                                  "ORDER BY due_ms", job)]


def test_dst_gap_skip_or_run_late_in_new_york(daemon_factory):
    # 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that day.
    d = dst_daemon(daemon_factory, "2026-03-08T00:00:00-05:00", {
        "gap_skip": {"schedule": "30 2 * * *", "dst_gap": "skip"},
        "gap_late": {"schedule": "30 2 * * *", "dst_gap": "run_late"},
        "after": {"schedule": "30 3 * * *"},
    })
    wait_for(lambda: ledger(d, "after"), timeout=20, what="03:30 EDT")
    assert ledger(d, "gap_late") == [ms("2026-03-08T03:00:00-04:00")]  # when the gap ends
    assert ledger(d, "after") == [ms("2026-03-08T03:30:00-04:00")]
    assert rows(d, "SELECT COUNT(*) FROM job_runs WHERE job='gap_skip'") == [(0,)]
    jobs = jobs_json(d)
    assert jobs["gap_skip"]["next_ms"] == ms("2026-03-09T02:30:00-04:00")
    assert jobs["gap_skip"]["next_run"].endswith("02:30:00-04:00"), jobs["gap_skip"]


def test_dst_overlap_once_or_both_in_new_york(daemon_factory):
    # 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice that day.
    d = dst_daemon(daemon_factory, "2026-11-01T00:00:00-04:00", {
        "both": {"schedule": "30 1 * * *", "dst_overlap": "both"},
        "once": {"schedule": "30 1 * * *", "dst_overlap": "once"},
        "after": {"schedule": "30 3 * * *"},
    })
    wait_for(lambda: ledger(d, "after"), timeout=20, what="03:30 EST")
    first, second = ms("2026-11-01T01:30:00-04:00"), ms("2026-11-01T01:30:00-05:00")
    assert second - first == 3600000
    assert ledger(d, "both") == [first, second]
    assert ledger(d, "once") == [first]
    assert ledger(d, "after") == [ms("2026-11-01T03:30:00-05:00")]
    assert rows(d, "SELECT COUNT(*) FROM job_runs WHERE state != 'ok' AND due_ms < ?",
                ms("2026-11-01T04:00:00-05:00")) == [(0,)]


def test_a_due_time_planned_ahead_survives_a_kill9_before_it_and_runs_once(daemon_factory):
    # The real clock. The row of a due time is committed 9.5 s ahead (jobs.plan_ahead_ms).
    defs = {"tick": {"schedule": "*/10 * * * * *", "worker": "supervisor",
                     "action": "system_check", "coalesce": False}}
    d = daemon_factory(overrides={"jobs": {"plan_ahead_ms": 9500, "defs": defs}}).start()

    def planned_far_ahead():
        got = rows(d, "SELECT id, due_ms FROM job_runs WHERE state='queued' AND "
                      "reason='planned'")
        return got and got[0][1] - time.time() * 1000 >= 6500 and got[0]

    _, due = wait_for(planned_far_ahead, timeout=15, what="a row planned 6.5 s ahead")
    workers = list(pids_of(d.status()).values())
    d.proc.kill()  # before its due time: the plan is in the ledger, nothing ran
    d.proc.wait()
    wait_gone(workers, timeout=10)
    assert rows(d, "SELECT state, started_ms FROM job_runs WHERE due_ms=?", due) \
        == [("queued", None)]
    assert due > time.time() * 1000, "the restart came too late for this test"
    d.start()
    wait_for(lambda: rows(d, "SELECT state FROM job_runs WHERE due_ms=?", due) == [("ok",)],
             timeout=20, what="the planned run after the restart")
    (trigger, started, attempts), = rows(d, "SELECT trigger, started_ms, attempts FROM job_runs "
                                            "WHERE due_ms=?", due)
    # Run once, at its due time (not early), from the row planned before the kill.
    assert trigger == "schedule" and attempts == 1 and started >= due, (started, due)
    assert rows(d, "SELECT COUNT(*) FROM job_runs GROUP BY job, due_ms HAVING COUNT(*) > 1") == []
    assert "MISSED" not in d.log_text()


def test_a_plan_is_withdrawn_when_its_job_is_paused_and_made_again_on_resume(daemon_factory):
    defs = {"tick": {"schedule": "*/10 * * * * *", "worker": "supervisor",
                     "action": "system_check", "coalesce": False}}
    d = daemon_factory(overrides={"jobs": {"plan_ahead_ms": 9500, "defs": defs}}).start()

    def planned(margin):
        got = rows(d, "SELECT due_ms FROM job_runs WHERE state='queued' AND reason='planned'")
        return got and got[0][0] - time.time() * 1000 >= margin and got[0][0]

    due = wait_for(lambda: planned(5000), timeout=15, what="a row planned 5 s ahead")
    d.ctl("job", "pause", "tick", check=True)
    # Paused before its due time: the plan goes, as if never made (no MISSED row).
    assert rows(d, "SELECT COUNT(*) FROM job_runs WHERE due_ms=?", due) == [(0,)]
    assert due > time.time() * 1000, "the pause came too late for this test"
    d.ctl("job", "resume", "tick", check=True)
    # Resumed before it: the same due time is planned again and runs once.
    wait_for(lambda: rows(d, "SELECT state FROM job_runs WHERE due_ms=?", due) == [("ok",)],
             timeout=15, what="the due time planned again")
    assert rows(d, "SELECT COUNT(*) FROM job_runs WHERE state='missed'") == [(0,)]

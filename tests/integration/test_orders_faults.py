"""Unknown outcomes: the simulator takes the order and then resets the connection, hangs past the
timeout, or answers 5xx; order-execution finds the order by identifier and never places it twice.
Then kill -9 at each compiled-in crash point: each intent placed at most once, no fill missing."""
import pytest

from orderutil import OrderRig, env_crash, pid_of
from conftest import wait_for

FAULTS = {
    "reset": {"action": "reset", "phase": "after"},
    "timeout": {"action": "hang", "phase": "after", "ms": 4000},
    "5xx": {"action": "status", "status": 503, "phase": "after"},
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_unknown_outcome_found_by_identifier(daemon_factory, kind):
    r = OrderRig(daemon_factory).start()
    r.fault(dict(FAULTS[kind], path_prefix="/v1/orders", count=1))
    iid = r.intent("KRW-BTC", "bid", "price", funds=10000)
    assert r.wait_intent(iid)[0] == "done"
    placed = r.sim_orders_of(iid)
    assert len(placed) == 1, (placed, r.attempts(iid), open("/tmp/x/log", "w").write(r.d.log_text()))
    atts = r.attempts(iid)
    assert [a[2] for a in atts] == ["placed"], atts
    assert atts[0][1] == placed[0]["identifier"]
    # the POST was sent once: the identifier was never offered again
    idents = [i for i in r.sim_orders()["identifiers"] if i["identifier"] == atts[0][1]]
    assert idents[0]["attempts"] == 1, idents
    r.assert_matches_sim()
    assert "looking it up by identifier" in r.d.log_text()


POINTS = ["picked-up", "after-sending", "after-post", "after-reply", "between-fills"]


def test_kill_at_each_crash_point(daemon_factory):
    env = env_crash(",".join(POINTS))
    r = OrderRig(daemon_factory, {"supervisor.crashloop_max_restarts": 50,
                                  "sim.accounts": ["test-access-key:test-secret-key:1000000000"]},
                 env=env)
    r.start()
    ids = []
    # Big market buys cross several levels of the book: several trades, so between-fills.
    for n in range(4):
        ids.append(r.intent("KRW-BTC", "bid", "price", funds=30_000_000))
    for iid in ids:
        assert r.wait_intent(iid, timeout=40)[0] == "done"
    w = r.d.status()["order-execution"]
    log = r.d.log_text()
    for p in POINTS:
        assert "fault injected: crash at " + p in log, (p, open("/tmp/x/log", "w").write(log))
    assert w["restarts"] >= len(POINTS), w
    for iid in ids:
        assert len(r.sim_orders_of(iid)) == 1, (iid, r.sim_orders_of(iid))
    r.assert_matches_sim()
    # The crash after 'sending' left an attempt that never went out: the lookup by identifier
    # found nothing (404) and a second attempt, with a new identifier, was placed.
    states = [[a[2] for a in r.attempts(iid)] for iid in ids]
    assert ["absent", "placed"] in states, states
    assert all(s[-1] == "placed" and s.count("placed") == 1 for s in states), states
    wait_for(lambda: r.d.state("order-execution") == "RUNNING", 15)
    assert pid_of(r.d, "order-execution") > 0

"""upbit-sim fault injection through /_sim/faults and /_sim/network: latency, error statuses,
429 bursts, bans, malformed bodies, resets (before and after processing), hangs, network down."""
import json
import os
import signal
import socket
import sys
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim, wait_until  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def sim():
    with Sim(["--rate", "ticker=1000", "--rate", "market=1000", "--rate", "order=1000",
              "--rate", "default=1000"], admin=True) as s:
        yield s


def add(sim, rule):
    st, body = sim.admin("POST", "/_sim/faults", rule)
    assert st == 201, body
    return body


def test_latency_scoped_by_path(sim):
    add(sim, {"action": "latency", "ms": 300, "path_prefix": "/v1/ticker"})
    t = time.time()
    assert sim.get("/v1/ticker?markets=KRW-BTC").status == 200
    assert time.time() - t >= 0.3
    t = time.time()
    assert sim.get("/v1/market/all").status == 200
    assert time.time() - t < 0.25


def test_status_rate_and_count(sim):
    add(sim, {"action": "status", "status": [500, 503, 504], "rate": 1.0, "count": 6, "group": "ticker"})
    got = [sim.get("/v1/ticker?markets=KRW-BTC").status for _ in range(8)]
    assert all(s in (500, 503, 504) for s in got[:6]) and got[6:] == [200, 200]
    assert sim.get("/v1/market/all").status == 200
    r = sim.admin("GET", "/_sim/faults")[1]
    assert r["rules"] == []
    add(sim, {"action": "status", "status": 503, "rate": 0.5})
    got = [sim.get("/v1/market/all").status for _ in range(40)]
    assert 5 < got.count(503) < 35 and got.count(200) == 40 - got.count(503)


def test_429_burst_with_retry_after(sim):
    add(sim, {"action": "status", "status": 429, "count": 3, "retry_after_s": 3})
    rs = [sim.get("/v1/market/all") for _ in range(4)]
    assert [r.status for r in rs] == [429, 429, 429, 200]
    assert rs[0].body == b"Too many API requests." and rs[0].header("Retry-After") == "3"
    add(sim, {"action": "status", "status": 429, "count": 1, "retry_after_s": 3,
              "retry_after_format": "date"})
    r = sim.get("/v1/market/all")
    assert r.header("Retry-After").endswith(" GMT")


def test_ban_now(sim):
    add(sim, {"action": "ban", "ms": 2000})
    r = sim.get("/v1/market/all")
    assert r.status == 418 and r.header("Retry-After") in ("1", "2")
    assert 0 < r.json()["error"]["block_ms"] <= 2000
    sim.admin("DELETE", "/_sim/faults")
    assert sim.get("/v1/market/all").status == 200


@pytest.mark.parametrize("mode", ["truncated", "wrong_types", "missing_fields", "nan", "garbage", "empty"])
def test_malformed_bodies(sim, mode):
    good = sim.get("/v1/ticker?markets=KRW-BTC").json()
    add(sim, {"action": "malformed", "mode": mode, "count": 1})
    r = sim.get("/v1/ticker?markets=KRW-BTC")
    assert r.status == 200
    if mode in ("truncated", "garbage", "empty"):
        with pytest.raises(ValueError):
            json.loads(r.body)
    elif mode == "nan":
        assert b"NaN" in r.body
        with pytest.raises(ValueError):
            json.loads(r.body, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    elif mode == "wrong_types":
        x = r.json()[0]
        assert isinstance(x["trade_price"], str) and not isinstance(x["market"], str)
    else:
        assert set(r.json()[0]) < set(good[0]) and "market" not in r.json()[0]
    assert sim.get("/v1/ticker?markets=KRW-BTC").json()[0]["market"] == "KRW-BTC"


def test_huge_body(sim):
    add(sim, {"action": "malformed", "mode": "huge", "mb": 3, "count": 1})
    r = sim.get("/v1/market/all")
    assert len(r.body) >= 3 * 1024 * 1024
    assert isinstance(json.loads(r.body), list)


def test_reset_before(sim):
    add(sim, {"action": "reset", "count": 1})
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        sim.get("/v1/market/all")
    assert sim.get("/v1/market/all").status == 200
    rec = sim.requests()["requests"]
    assert rec[0]["status"] == 0 and rec[0]["fault"] == "reset"


def test_reset_after_order_created(sim):
    """The duplicate trap: the order is created, the reply is lost."""
    add(sim, {"action": "reset", "phase": "after", "path_prefix": "/v1/orders", "count": 1})
    body = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": "100000000",
            "volume": "0.0001", "identifier": "lost-reply-1"}
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        sim.private("POST", "/v1/orders", body=body)
    g = sim.private("GET", "/v1/order", params=[("identifier", "lost-reply-1")])
    assert g.status == 200 and g.json()["identifier"] == "lost-reply-1"
    again = sim.private("POST", "/v1/orders", body=body)
    assert again.status == 400 and again.json()["error"]["name"] == "duplicate_identifier"
    ids = {x["identifier"]: x for x in sim.admin("GET", "/_sim/orders")[1]["identifiers"]}
    assert ids["lost-reply-1"]["created"] == 1 and ids["lost-reply-1"]["attempts"] == 2


def test_hang_until_cleared_and_timed(sim):
    add(sim, {"action": "hang", "path_prefix": "/v1/market"})
    with pytest.raises(socket.timeout):
        sim.get("/v1/market/all", timeout=0.5)
    t = time.time()
    sim.admin("DELETE", "/_sim/faults")
    assert sim.get("/v1/market/all").status == 200 and time.time() - t < 1
    add(sim, {"action": "hang", "ms": 400, "count": 1})
    t = time.time()
    assert sim.get("/v1/market/all", timeout=5).status == 200
    assert time.time() - t >= 0.4


def refused(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


def test_network_down_and_up(sim):
    st, n = sim.admin("POST", "/_sim/network", {"state": "down"})
    assert st == 200 and n["state"] == "down"
    assert refused(sim.port)
    st, h = sim.admin("GET", "/_sim/health")  # the admin port still answers
    assert h["network"] == "down"
    st, n = sim.admin("POST", "/_sim/network", {"state": "up"})
    assert n["state"] == "up" and sim.get("/v1/market/all").status == 200
    # a timed outage ends by itself
    sim.admin("POST", "/_sim/network", {"state": "down", "ms": 500})
    assert refused(sim.port)
    assert wait_until(lambda: not refused(sim.port), 3)
    # signals: SIGUSR1 down, SIGUSR2 up
    sim.proc.send_signal(signal.SIGUSR1)
    assert wait_until(lambda: refused(sim.port), 3)
    sim.proc.send_signal(signal.SIGUSR2)
    assert wait_until(lambda: not refused(sim.port), 3)
    # the admin port serves only /_sim/
    assert sim.get("/v1/market/all", port=sim.admin_port).status == 404


def test_bad_fault_rules_rejected(sim):
    for rule in ({"action": "explode"}, {"action": "status", "status": 200},
                 {"action": "malformed", "mode": "weird"}, {"action": "latency", "rate": 2},
                 {"action": "latency", "group": "nosuch"}, {"rules": "x"}):
        st, body = sim.admin("POST", "/_sim/faults", rule)
        assert st == 400 and body["error"]["name"] == "invalid_fault"
    st, body = sim.admin("POST", "/_sim/faults", {"rules": [{"action": "latency", "ms": 1},
                                                            {"action": "status", "status": 503, "rate": 0}]})
    assert st == 201 and [r["action"] for r in body["rules"]] == ["latency", "status"]
    assert sim.request("POST", "/_sim/faults", body=b"{{").status == 400

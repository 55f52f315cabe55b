"""upbit-sim quotation endpoints: shapes, JSON types, candle ordering/gaps/`to`, headers."""
import re
import sys
import os
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim  # noqa: E402

import pytest  # noqa: E402

RR = re.compile(r"^group=([a-z\-]+); min=1800; sec=(\d+)$")


@pytest.fixture(scope="module")
def sim():
    with Sim(["--seed", "7", "--gap-prob", "0.3", "--history-minutes", "600",
              "--rate", "candle=1000", "--rate", "ticker=1000", "--rate", "orderbook=1000",
              "--rate", "market=1000", "--rate", "trade=1000"]) as s:
        yield s


def test_market_all_and_remaining_req(sim):
    r = sim.get("/v1/market/all?is_details=true")
    assert r.status == 200
    m = RR.match(r.header("Remaining-Req"))
    assert m and m.group(1) == "market"
    body = r.json()
    codes = [x["market"] for x in body]
    assert codes == ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
    assert body[0]["english_name"] == "Bitcoin"
    assert body[0]["market_event"]["warning"] is False


def test_ticker_types(sim):
    r = sim.get("/v1/ticker?markets=KRW-BTC,KRW-DOGE")
    assert r.status == 200
    assert RR.match(r.header("Remaining-Req")).group(1) == "ticker"
    t = r.json()
    assert [x["market"] for x in t] == ["KRW-BTC", "KRW-DOGE"]
    for x in t:
        for f in ("opening_price", "high_price", "low_price", "trade_price", "prev_closing_price",
                  "change_price", "change_rate", "signed_change_rate", "acc_trade_price",
                  "acc_trade_volume_24h", "highest_52_week_price", "trade_volume"):
            assert isinstance(x[f], float), f
        assert isinstance(x["timestamp"], int) and isinstance(x["trade_timestamp"], int)
        assert x["change"] in ("RISE", "EVEN", "FALL")
        assert re.match(r"^\d{8}$", x["trade_date"]) and re.match(r"^\d{6}$", x["trade_time"])
        assert re.match(r"^\d{4}-\d\d-\d\d$", x["highest_52_week_date"])
        assert x["low_price"] <= x["trade_price"] <= x["high_price"]
        assert abs(x["signed_change_price"] - (x["trade_price"] - x["prev_closing_price"])) < 1e-6
    assert 1e7 < t[0]["trade_price"] < 1e9


def test_ticker_errors(sim):
    r = sim.get("/v1/ticker")
    assert r.status == 400 and r.json()["error"]["name"] == 400
    r = sim.get("/v1/ticker?markets=KRW-NOPE")
    assert r.status == 404 and "message" in r.json()["error"]
    assert RR.match(r.header("Remaining-Req"))


def test_candles_newest_first_with_gaps(sim):
    r = sim.get("/v1/candles/minutes/1?market=KRW-BTC&count=200")
    assert r.status == 200
    assert RR.match(r.header("Remaining-Req")).group(1) == "candle"
    c = r.json()
    assert len(c) == 200
    starts = [x["candle_date_time_utc"] for x in c]
    assert starts == sorted(starts, reverse=True) and len(set(starts)) == 200
    keys = {"market", "candle_date_time_utc", "candle_date_time_kst", "opening_price", "high_price",
            "low_price", "trade_price", "timestamp", "candle_acc_trade_price",
            "candle_acc_trade_volume", "unit"}
    assert set(c[0]) == keys
    # gaps: with --gap-prob 0.3 some minutes had no trade, so 200 candles span > 200 minutes
    from datetime import datetime
    t0 = datetime.fromisoformat(starts[-1])
    t1 = datetime.fromisoformat(starts[0])
    assert (t1 - t0).total_seconds() / 60 + 1 > 200
    for x in c:
        st = datetime.fromisoformat(x["candle_date_time_utc"] + "+00:00").timestamp() * 1000
        assert st <= x["timestamp"] < st + 60000
        assert x["low_price"] <= min(x["opening_price"], x["trade_price"])
        assert x["high_price"] >= max(x["opening_price"], x["trade_price"])
        kst = datetime.fromisoformat(x["candle_date_time_kst"])
        assert (kst - datetime.fromisoformat(x["candle_date_time_utc"])).total_seconds() == 9 * 3600


def test_candles_to_exclusive_and_forms(sim):
    c = sim.get("/v1/candles/minutes/1?market=KRW-ETH&count=5").json()
    to = c[2]["candle_date_time_utc"]          # start of the third-newest candle
    forms = [to + "Z", to.replace("T", " "), None]
    # the same instant in KST with an offset
    from datetime import datetime, timedelta
    k = (datetime.fromisoformat(to) + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%S") + "+09:00"
    forms[2] = k
    for f in forms:
        r = sim.get("/v1/candles/minutes/1?market=KRW-ETH&count=2&to=" + quote(f, safe=""))
        assert r.status == 200, f
        got = r.json()
        assert got[0]["candle_date_time_utc"] == c[3]["candle_date_time_utc"], f
        assert all(x["candle_date_time_utc"] < to for x in got)
    # an unencoded '+' turns into a space: Upbit answers 400
    r = sim.get("/v1/candles/minutes/1?market=KRW-ETH&to=" + k)
    assert r.status == 400


def test_candles_units_and_limits(sim):
    for unit in (3, 5, 10, 15, 30, 60, 240):
        r = sim.get("/v1/candles/minutes/%d?market=KRW-XRP&count=3" % unit)
        assert r.status == 200
        c = r.json()
        assert c and all(x["unit"] == unit for x in c)
        for x in c:
            minute = int(x["candle_date_time_utc"][14:16]) + 60 * int(x["candle_date_time_utc"][11:13])
            assert minute % unit == 0
    assert sim.get("/v1/candles/minutes/7?market=KRW-XRP").status == 400
    assert sim.get("/v1/candles/minutes/1?market=KRW-XRP&count=201").status == 400
    assert sim.get("/v1/candles/minutes/1?market=KRW-XRP&count=0").status == 400
    assert len(sim.get("/v1/candles/minutes/1?market=KRW-XRP").json()) == 1
    assert sim.get("/v1/candles/minutes/1?count=2").status == 400


def test_day_candles(sim):
    d = sim.get("/v1/candles/days?market=KRW-BTC&count=30").json()
    assert len(d) == 30
    assert all(x["candle_date_time_utc"].endswith("T00:00:00") for x in d)
    assert "unit" not in d[0] and isinstance(d[0]["prev_closing_price"], float)
    assert d[0]["prev_closing_price"] == d[1]["trade_price"]
    # the newest day candle agrees with the ticker's day figures
    t = sim.get("/v1/ticker?markets=KRW-BTC").json()[0]
    assert t["opening_price"] == d[0]["opening_price"]


def test_orderbook_and_instruments(sim):
    r = sim.get("/v1/orderbook?markets=KRW-BTC,KRW-DOGE")
    assert r.status == 200 and RR.match(r.header("Remaining-Req")).group(1) == "orderbook"
    books = r.json()
    assert len(books) == 2
    for b in books:
        u = b["orderbook_units"]
        assert len(u) == 30
        asks = [x["ask_price"] for x in u]
        bids = [x["bid_price"] for x in u]
        assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
        assert bids[0] < asks[0]
        assert isinstance(b["total_ask_size"], float)
    ins = sim.get("/v1/orderbook/instruments?markets=KRW-BTC,KRW-DOGE").json()
    assert ins[0]["tick_size"] == "1000" and ins[1]["tick_size"] == "1"
    assert ins[0]["quote_currency"] == "KRW"


def test_trades_ticks(sim):
    r = sim.get("/v1/trades/ticks?market=KRW-BTC&count=5")
    assert r.status == 200 and RR.match(r.header("Remaining-Req")).group(1) == "trade"
    t = r.json()
    assert len(t) == 5
    ts = [x["timestamp"] for x in t]
    assert ts == sorted(ts, reverse=True)
    assert t[0]["ask_bid"] in ("ASK", "BID")


def test_admin_candles_match_api(sim):
    st, full = sim.admin("GET", "/_sim/candles?market=KRW-SOL&unit=1")
    assert st == 200
    api = sim.get("/v1/candles/minutes/1?market=KRW-SOL&count=50").json()
    hist = {x["candle_date_time_utc"]: x for x in full["candles"]}
    # the newest candle may still be growing; the others are final
    for x in api[1:]:
        assert hist[x["candle_date_time_utc"]]["trade_price"] == x["trade_price"]
    assert len(full["candles"]) > 300


def test_deterministic_seed():
    with Sim(["--seed", "42", "--history-minutes", "120",
              "--clock-start", "2025-01-15T00:00:00Z", "--clock-rate", "1"]) as a, \
         Sim(["--seed", "42", "--history-minutes", "120",
              "--clock-start", "2025-01-15T00:00:00Z", "--clock-rate", "1"]) as b:
        q = "/v1/candles/minutes/1?market=KRW-BTC&count=50&to=2025-01-14T23:50:00Z"
        ca, cb = a.get(q).json(), b.get(q).json()
        assert ca == cb and len(ca) > 10
        assert ca[0]["candle_date_time_utc"].startswith("2025-01-14T23:4")


def test_bad_queries_never_crash(sim):
    for path in ("/v1/ticker?markets=%", "/v1/ticker?markets=%zz&&&===", "/v1/candles/minutes/1?market=KRW-BTC&to=garbage",
                 "/v1/candles/minutes/99999999999999999999?market=KRW-BTC", "/v1/candles/days?market=" + "A" * 5000,
                 "/v1/nothing", "/v1/orderbook?markets=" + ",".join(["KRW-BTC"] * 300)):
        r = sim.get(path)
        assert 400 <= r.status < 500, path
    assert sim.get("/v1/market/all").status == 200


def test_admin_price_with_a_trade_now_and_monotonic_receipt_times(sim):
    """POST /_sim/price with "trade": true shows a trade at that price at the next engine tick
    (benchmarks steer prices with it); the recorder stamps receipt in CLOCK_MONOTONIC us."""
    import time
    from conftest import wait_for
    t0 = int(time.monotonic() * 1e6)
    before = sim.get("/v1/ticker?markets=KRW-SOL").json()[0]["trade_price"]
    price = 300000.0 if before < 290000 else 250000.0
    st, body = sim.admin("POST", "/_sim/price", {"market": "KRW-SOL", "price": price,
                                                 "trade": True})
    if not body["trade"]:  # this minute's trades were full: the next minute has room
        st, body = wait_for(lambda: (lambda r: r if r[1]["trade"] else None)(
            sim.admin("POST", "/_sim/price", {"market": "KRW-SOL", "price": price,
                                              "trade": True})), 70, 0.2)
    assert st == 200 and body["market"] == "KRW-SOL" and body["trade"] is True
    wait_for(lambda: sim.get("/v1/ticker?markets=KRW-SOL").json()[0]["trade_price"] == price,
             5, 0.02, what="the trade shown")
    st, bad = sim.admin("POST", "/_sim/price", {"market": "KRW-NOPE", "price": 1, "trade": True})
    assert st == 400 and bad["error"]["name"] == "invalid_body"
    st, rec = sim.admin("GET", "/_sim/requests?limit=100000")
    mine = [r for r in rec["requests"] if r["path"] == "/v1/ticker"]
    assert mine and all(isinstance(r["recv_mono_us"], int) for r in mine)
    assert mine[-1]["recv_mono_us"] >= t0
    stamps = [r["recv_mono_us"] for r in mine]
    assert stamps == sorted(stamps)

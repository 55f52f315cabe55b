"""upbit-sim exchange API: JWT failures by name, HS256/HS512, query_hash rules, and orders
(limit fill, market buy ending cancel, minimum total, tick grid, identifiers, DELETE)."""
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim, auth_header, make_jwt, wait_until, AK, SK  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    with Sim(["--markets", "KRW-BTC,KRW-ETH,KRW-XRP,KRW-SOL,KRW-DOGE", "--seed", "3",
              "--history-minutes", "60", "--rate", "order=1000", "--rate", "default=1000",
              "--volatility", "0.0002", "--clock-rate", "60"],
             accounts=[f"{AK}:{SK}:100000000:XRP=1000", "k2:s2:5000000"]) as s:
        yield s


def err_name(r):
    return r.json()["error"]["name"]


def test_missing_and_bad_tokens(sim):
    r = sim.get("/v1/accounts")
    assert r.status == 401 and err_name(r) == "no_authorization_token"
    r = sim.get("/v1/accounts", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status == 401 and err_name(r) == "jwt_verification"
    r = sim.get("/v1/accounts", headers={"Authorization": auth_header(sk="wrong-secret")})
    assert r.status == 401 and err_name(r) == "jwt_verification"
    r = sim.get("/v1/accounts", headers={"Authorization": auth_header(ak="nobody")})
    assert r.status == 401 and err_name(r) == "invalid_access_key"
    alg_none = make_jwt({"access_key": AK, "nonce": str(uuid.uuid4())}, SK).split(".")
    r = sim.get("/v1/accounts", headers={"Authorization": "Bearer " + alg_none[0] + "." + alg_none[1] + "."})
    assert r.status == 401 and err_name(r) == "jwt_verification"


def test_hs256_and_hs512_and_nonce(sim):
    for alg in ("HS256", "HS512"):
        r = sim.private("GET", "/v1/accounts", alg=alg)
        assert r.status == 200, r.body
        acc = {x["currency"]: x for x in r.json()}
        assert set(acc["KRW"]) == {"currency", "balance", "locked", "avg_buy_price",
                                   "avg_buy_price_modified", "unit_currency"}
        assert isinstance(acc["KRW"]["balance"], str) and float(acc["XRP"]["balance"]) > 0
    h = {"Authorization": auth_header(nonce="fixed-nonce-1")}
    assert sim.get("/v1/accounts", headers=h).status == 200
    r = sim.get("/v1/accounts", headers=h)
    assert r.status == 401 and err_name(r) == "nonce_used"
    # the second account sees its own balance
    r = sim.private("GET", "/v1/accounts", ak="k2", sk="s2")
    assert r.json()[0]["balance"] == "5000000.0"


def test_query_hash(sim):
    params = [("market", "KRW-BTC"), ("states[]", ["wait", "watch"])]
    r = sim.private("GET", "/v1/orders/open", params=params, alg="HS512")
    assert r.status == 200 and isinstance(r.json(), list)
    # hash of different parameters
    r = sim.private("GET", "/v1/orders/chance", params=[("market", "KRW-BTC")],
                    query_hash="0" * 128)
    assert r.status == 401 and err_name(r) == "invalid_query_payload"
    # parameters but no query_hash claim
    r = sim.get("/v1/orders/chance?market=KRW-BTC", headers={"Authorization": auth_header()})
    assert r.status == 401 and err_name(r) == "invalid_query_payload"
    # order matters: the hash covers the parameters in received order
    h = {"Authorization": auth_header([("b", "2"), ("market", "KRW-BTC")])}
    r = sim.get("/v1/orders/chance?market=KRW-BTC&b=2", headers=h)
    assert err_name(r) == "invalid_query_payload"
    # ISO time with ':' and '+' hashed unencoded
    r = sim.private("GET", "/v1/orders/closed",
                    params=[("market", "KRW-BTC"), ("start_time", "2024-12-09T13:56:53+09:00")])
    assert r.status == 200
    c = sim.private("GET", "/v1/orders/chance", params=[("market", "KRW-BTC")]).json()
    assert c["bid_fee"] == "0.0005" and c["market"]["bid"]["min_total"] == 5000
    assert c["market"]["max_total"] == "1000000000.0" and c["ask_account"]["currency"] == "BTC"


def place(sim, **body):
    return sim.private("POST", "/v1/orders", body=body)


def test_post_body_hash_mismatch(sim):
    body = {"market": "KRW-BTC", "side": "bid", "volume": "0.001", "price": "50000000", "ord_type": "limit"}
    h = {"Authorization": auth_header(list(reversed(list(body.items()))))}
    r = sim.request("POST", "/v1/orders", body=body, headers=h)
    assert r.status == 401 and err_name(r) == "invalid_query_payload"


def test_validation_errors(sim):
    r = place(sim, market="KRW-BTC", side="bid", ord_type="limit", price="100000500", volume="0.001")
    assert r.status == 400 and err_name(r) == "invalid_price_bid"
    r = place(sim, market="KRW-XRP", side="ask", ord_type="limit", price="3100.5", volume="10")
    assert r.status == 400 and err_name(r) == "invalid_price_ask"
    r = place(sim, market="KRW-BTC", side="bid", ord_type="limit", price="100000000", volume="0.00004")
    assert r.status == 400 and err_name(r) == "under_min_total_bid"
    r = place(sim, market="KRW-XRP", side="ask", ord_type="limit", price="3000", volume="1")
    assert r.status == 400 and err_name(r) == "under_min_total_ask"
    r = place(sim, market="KRW-BTC", side="bid", ord_type="price", price="4999")
    assert r.status == 400 and err_name(r) == "under_min_total_bid"
    r = place(sim, market="KRW-BTC", side="bid", ord_type="limit", price="100000000", volume="5")
    assert r.status == 400 and err_name(r) == "insufficient_funds_bid"
    r = place(sim, market="KRW-ETH", side="ask", ord_type="market", volume="1")
    assert r.status == 400 and err_name(r) == "insufficient_funds_ask"
    r = place(sim, market="KRW-BTC", side="bid", ord_type="price", price="10000", volume="1")
    assert r.status == 400 and err_name(r) == "create_bid_error"
    r = place(sim, market="KRW-XRP", side="ask", ord_type="market", volume="10", price="3000")
    assert r.status == 400 and err_name(r) == "create_ask_error"
    r = place(sim, market="KRW-BTC", side="buy", ord_type="limit", price="100000000", volume="1")
    assert r.status == 400 and err_name(r) == "validation_error"
    r = place(sim, market="KRW-BTC", side="bid", ord_type="best", price="10000")
    assert r.status == 400 and err_name(r) == "validation_error"
    r = sim.request("POST", "/v1/orders", body=b"{not json", headers={"Authorization": auth_header()})
    assert r.status == 400


def test_duplicate_identifier_burnt_even_on_failure(sim):
    ident = "dup-" + uuid.uuid4().hex
    r = place(sim, market="KRW-BTC", side="bid", ord_type="limit", price="1000", volume="0.001",
              identifier=ident)
    assert r.status == 400 and err_name(r) == "under_min_total_bid"
    r = place(sim, market="KRW-DOGE", side="bid", ord_type="limit", price="100", volume="100",
              identifier=ident)
    assert r.status == 400 and err_name(r) == "duplicate_identifier"
    ok = "ok-" + uuid.uuid4().hex
    r = place(sim, market="KRW-DOGE", side="bid", ord_type="limit", price="100", volume="100", identifier=ok)
    assert r.status == 201 and r.json()["identifier"] == ok
    r = place(sim, market="KRW-DOGE", side="bid", ord_type="limit", price="100", volume="100", identifier=ok)
    assert err_name(r) == "duplicate_identifier"
    st, orders = sim.admin("GET", "/_sim/orders")
    ids = {x["identifier"]: x for x in orders["identifiers"]}
    assert ids[ident]["attempts"] == 2 and ids[ident]["created"] == 0
    assert ids[ok]["attempts"] == 2 and ids[ok]["created"] == 1
    # the other account may use the same identifier
    r = sim.private("POST", "/v1/orders", body={"market": "KRW-DOGE", "side": "bid", "ord_type": "limit",
                                                "price": "100", "volume": "100", "identifier": ok},
                    ak="k2", sk="s2")
    assert r.status == 201


def test_limit_rests_then_fills_at_its_price(sim):
    t = sim.get("/v1/ticker?markets=KRW-XRP").json()[0]["trade_price"]
    price = int(t * 0.9)
    r = place(sim, market="KRW-XRP", side="bid", ord_type="limit", price=str(price), volume="10",
              identifier="lim-" + uuid.uuid4().hex)
    assert r.status == 201, r.body
    o = r.json()
    assert o["state"] == "wait" and o["ord_type"] == "limit" and isinstance(o["price"], str)
    assert float(o["locked"]) == pytest.approx(price * 10 * 1.0005)
    assert float(o["reserved_fee"]) == pytest.approx(price * 10 * 0.0005)
    sim.admin("POST", "/_sim/price", {"market": "KRW-XRP", "price": price * 0.8})

    def done():
        g = sim.private("GET", "/v1/order", params=[("uuid", o["uuid"])]).json()
        return g if g["state"] == "done" else None
    g = wait_until(done, 10)
    assert g, "limit order never filled"
    assert g["executed_volume"] == "10.0" and g["remaining_volume"] == "0.0"
    assert len(g["trades"]) == 1 and float(g["trades"][0]["price"]) == price
    assert float(g["paid_fee"]) == pytest.approx(price * 10 * 0.0005)
    assert float(g["locked"]) == 0
    # by identifier too
    g2 = sim.private("GET", "/v1/order", params=[("identifier", o["identifier"])]).json()
    assert g2["uuid"] == o["uuid"]
    sim.admin("POST", "/_sim/price", {"market": "KRW-XRP", "price": t})


def test_market_buy_ends_cancel_with_volume(sim):
    before = {x["currency"]: x for x in sim.private("GET", "/v1/accounts").json()}
    r = place(sim, market="KRW-BTC", side="bid", ord_type="price", price="10000")
    assert r.status == 201
    o = r.json()
    assert o["volume"] is None and o["ord_type"] == "price"
    g = sim.private("GET", "/v1/order", params=[("uuid", o["uuid"])]).json()
    assert g["state"] == "cancel"
    assert float(g["executed_volume"]) > 0 and g["trades"]
    funds = sum(float(t["funds"]) for t in g["trades"])
    assert 9990 < funds < 10000
    after = {x["currency"]: x for x in sim.private("GET", "/v1/accounts").json()}
    spent = float(before["KRW"]["balance"]) - float(after["KRW"]["balance"])
    assert spent == pytest.approx(funds * 1.0005, abs=1e-6)
    assert float(after["BTC"]["balance"]) == pytest.approx(float(g["executed_volume"]))
    assert float(after["BTC"]["avg_buy_price"]) > 0


def test_market_sell_done(sim):
    r = place(sim, market="KRW-XRP", side="ask", ord_type="market", volume="5")
    assert r.status == 201 and r.json()["price"] is None
    g = sim.private("GET", "/v1/order", params=[("uuid", r.json()["uuid"])]).json()
    assert g["state"] == "done" and g["executed_volume"] == "5.0"


def test_best_ioc_and_fok(sim):
    r = place(sim, market="KRW-XRP", side="ask", ord_type="best", volume="5", time_in_force="ioc")
    assert r.status == 201 and r.json()["time_in_force"] == "ioc"
    g = sim.private("GET", "/v1/order", params=[("uuid", r.json()["uuid"])]).json()
    assert g["state"] in ("done", "cancel") and float(g["executed_volume"]) > 0
    # level 1 of the synthetic book never holds 30M KRW: fok cancels untouched, ioc takes part
    krw0 = float(sim.private("GET", "/v1/accounts").json()[0]["balance"])
    r = place(sim, market="KRW-BTC", side="bid", ord_type="best", price="30000000", time_in_force="fok")
    assert r.status == 201
    g = sim.private("GET", "/v1/order", params=[("uuid", r.json()["uuid"])]).json()
    assert g["state"] == "cancel" and g["executed_volume"] == "0.0" and not g["trades"]
    assert float(sim.private("GET", "/v1/accounts").json()[0]["balance"]) == pytest.approx(krw0)
    r = place(sim, market="KRW-BTC", side="bid", ord_type="best", price="30000000", time_in_force="ioc")
    g = sim.private("GET", "/v1/order", params=[("uuid", r.json()["uuid"])]).json()
    assert g["state"] == "cancel" and float(g["executed_volume"]) > 0 and len(g["trades"]) == 1


def test_delete_answers_wait_then_cancel(sim):
    r = place(sim, market="KRW-DOGE", side="bid", ord_type="limit", price="100", volume="60",
              identifier="del-" + uuid.uuid4().hex)
    o = r.json()
    assert o["state"] == "wait"
    acc = {x["currency"]: x for x in sim.private("GET", "/v1/accounts").json()}
    assert float(acc["KRW"]["locked"]) >= 6000
    d = sim.private("DELETE", "/v1/order", params=[("uuid", o["uuid"])])
    assert d.status == 200 and d.json()["state"] == "wait"
    g = wait_until(lambda: sim.private("GET", "/v1/order", params=[("uuid", o["uuid"])]).json()
                   ["state"] == "cancel", 5)
    assert g
    closed = sim.private("GET", "/v1/orders/closed", params=[("market", "KRW-DOGE"), ("state", "cancel")]).json()
    assert o["uuid"] in [x["uuid"] for x in closed]
    opened = sim.private("GET", "/v1/orders/open", params=[("market", "KRW-DOGE")]).json()
    assert o["uuid"] not in [x["uuid"] for x in opened]
    d = sim.private("DELETE", "/v1/order", params=[("uuid", o["uuid"])])
    assert d.status == 404 and err_name(d) == "order_not_found"
    r = sim.private("GET", "/v1/order", params=[("uuid", str(uuid.uuid4()))])
    assert r.status == 404 and err_name(r) == "order_not_found"


def test_order_test_endpoint(sim):
    r = sim.private("POST", "/v1/orders/test", body={"market": "KRW-DOGE", "side": "bid", "ord_type": "limit",
                                                     "price": "100", "volume": "60"})
    assert r.status == 201 and r.json()["state"] == "wait"
    g = sim.private("GET", "/v1/order", params=[("uuid", r.json()["uuid"])])
    assert g.status == 404

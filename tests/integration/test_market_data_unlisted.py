"""A configured market the exchange does not list is reported once and left out, so that one
typo in market_data.markets cannot fail the ticker request of every other market."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import MarketDataRig, Sim, shared_clock, wait_until  # noqa: E402

RATE = 60


def test_unlisted_market_is_reported_and_skipped(daemon_factory):
    clock = shared_clock(RATE)
    with Sim(["--markets", "KRW-BTC,KRW-ETH"], admin=True, env={"TRADINGD_CLOCK": clock}) as sim:
        rig = MarketDataRig(daemon_factory, [sim], clock,
                            markets=("KRW-BTC", "KRW-NOPE", "KRW-ETH")).start()
        markets = wait_until(lambda: (lambda m: m if float(m["KRW-BTC"]["price"]) > 0 and
                                      float(m["KRW-ETH"]["price"]) > 0 else None)(
            rig.details()["markets"]), 10)
        assert markets, rig.details()
        assert markets["KRW-NOPE"]["listed"] is False
        assert markets["KRW-BTC"]["listed"] is True and not markets["KRW-BTC"]["stale"]
        rows = rig.notifications()
        unlisted = [text for kind, text in rows if kind == "market_unlisted"]
        assert len(unlisted) == 1 and "KRW-NOPE" in unlisted[0], rows
        # Never asked for, never stale, never a candle.
        reqs = sim.requests()["requests"]
        tickers = [r for r in reqs if r["path"] == "/v1/ticker"]
        assert tickers and all("KRW-NOPE" not in r["query"] for r in tickers)
        assert not any("KRW-NOPE" in r["query"] for r in reqs
                       if r["path"].startswith("/v1/candles"))
        assert not any(kind == "market_data_stale" for kind, _ in rows)
        # The notifier got the nudge and read the row from the outbox.
        assert wait_until(lambda: "[warning] from market-data (market_unlisted): market "
                          "KRW-NOPE" in rig.daemon.log_text(), 5), rig.daemon.log_text()[-2000:]
        rig.assert_survived()

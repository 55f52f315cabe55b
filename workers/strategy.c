/* The strategy worker: for now it keeps the latest tick and the stale flag of each market, so
 * that decisions (their own issue) start from fresh, checked data. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/worker.h"

#define STRATEGY_MAX_MARKETS 512

struct market_view {
	char market[IPC_MARKET_LEN];
	double price;
	int64_t trade_ts_ms;
	int stale;
};

struct strategy {
	struct market_view markets[STRATEGY_MAX_MARKETS];
	size_t n;
	uint64_t ticks, candles, state_changes, overflow;
};

static struct market_view *view_of(struct strategy *s, const char *market)
{
	for (size_t i = 0; i < s->n; i++)
		if (strncmp(s->markets[i].market, market, IPC_MARKET_LEN) == 0)
			return &s->markets[i];
	if (s->n == STRATEGY_MAX_MARKETS) {
		s->overflow++;
		return NULL;
	}
	memcpy(s->markets[s->n].market, market, IPC_MARKET_LEN);
	s->markets[s->n].market[IPC_MARKET_LEN - 1] = '\0';
	return &s->markets[s->n++];
}

static int strategy_init(struct worker *w)
{
	w->state = calloc(1, sizeof(struct strategy));
	return w->state ? 0 : -1;
}

static void strategy_on_msg(struct worker *w, const struct ipc_hdr *hdr, const void *payload)
{
	struct strategy *s = w->state;
	struct market_view *v;

	switch (hdr->type) {
	case IPC_TICK: {
		struct ipc_tick t;

		memcpy(&t, payload, sizeof(t));
		s->ticks++;
		v = view_of(s, t.market);
		if (v && t.trade_ts_ms >= v->trade_ts_ms) {
			v->price = (double)t.price_e8 / 1e8;
			v->trade_ts_ms = t.trade_ts_ms;
		}
		break;
	}
	case IPC_MARKET_STATE: {
		struct ipc_market_state st;

		memcpy(&st, payload, sizeof(st));
		s->state_changes++;
		v = view_of(s, st.market);
		if (v)
			v->stale = st.stale;
		log_info("%s: market data %s", st.market,
			 st.stale ? "stale: not trading on it" : "fresh");
		break;
	}
	case IPC_CANDLE:
		s->candles++;
		break;
	default:
		log_warnx("unexpected %s", ipc_type_name(hdr->type));
		break;
	}
}

/* No new entry while order-execution or market-data is not RUNNING (w->peers_down). */
static void strategy_on_peer(struct worker *w, enum role role, int running)
{
	log_notice("%s is %s: new entries %s", role_name(role), running ? "back" : "not running",
		   w->peers_down ? "stopped" : "allowed again");
}

static void strategy_status(struct worker *w, json_t *out)
{
	struct strategy *s = w->state;
	json_t *markets = json_object();

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		json_object_set_new(markets, s->markets[i].market,
				    json_pack("{s:f, s:I, s:b}", "price", s->markets[i].price,
					      "trade_ts_ms", (json_int_t)s->markets[i].trade_ts_ms,
					      "stale", s->markets[i].stale));
	json_object_set_new(out, "markets", markets);
	json_t *blocked = json_array();

	for (int r = 0; r < ROLE_COUNT; r++)
		if (w->peers_down & ROLE_BIT(r))
			json_array_append_new(blocked, json_string(role_name((enum role)r)));
	json_object_set_new(out, "entries_blocked_by", blocked);
	json_object_set_new(out, "counters",
			    json_pack("{s:I, s:I, s:I, s:I}", "ticks", (json_int_t)s->ticks,
				      "candles", (json_int_t)s->candles, "state_changes",
				      (json_int_t)s->state_changes, "overflow",
				      (json_int_t)s->overflow));
}

static void strategy_stop(struct worker *w)
{
	free(w->state);
	w->state = NULL;
}

const struct worker_ops strategy_ops = {
	.init = strategy_init,
	.on_msg = strategy_on_msg,
	.on_peer = strategy_on_peer,
	.status = strategy_status,
	.stop = strategy_stop,
};

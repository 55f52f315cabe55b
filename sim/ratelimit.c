/* Upbit's request limits: a one-second window per rate-limit group and client, 429 when it is
 * spent, and a 418 ban (doubling on each repeat) after too many consecutive 429s. */
#include "sim/sim_state.h"

#include <string.h>

static const struct {
	const char *name;
	int limit;
} groups[RL_NGROUPS] = {
	[RL_MARKET] = {"market", 10},	    [RL_CANDLE] = {"candle", 10},
	[RL_TRADE] = {"trade", 10},	    [RL_TICKER] = {"ticker", 10},
	[RL_ORDERBOOK] = {"orderbook", 10}, [RL_DEFAULT] = {"default", 30},
	[RL_ORDER] = {"order", 8},	    [RL_ORDER_TEST] = {"order-test", 8},
};

const char *rl_group_name(enum rl_group g)
{
	return g < RL_NGROUPS ? groups[g].name : "default";
}

int rl_group_parse(const char *name)
{
	int g;

	for (g = 0; g < RL_NGROUPS; g++)
		if (strcmp(groups[g].name, name) == 0)
			return g;
	return -1;
}

static int prefixed(const char *path, const char *prefix)
{
	return strncmp(path, prefix, strlen(prefix)) == 0;
}

enum rl_group rl_group_for(const char *method, const char *path)
{
	if (strcmp(path, "/v1/market/all") == 0)
		return RL_MARKET;
	if (prefixed(path, "/v1/candles/"))
		return RL_CANDLE;
	if (prefixed(path, "/v1/trades/"))
		return RL_TRADE;
	if (prefixed(path, "/v1/ticker"))
		return RL_TICKER;
	if (prefixed(path, "/v1/orderbook"))
		return RL_ORDERBOOK;
	if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/orders") == 0)
		return RL_ORDER;
	if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/orders/test") == 0)
		return RL_ORDER_TEST;
	return RL_DEFAULT;
}

void rl_init(struct ratelimit *rl)
{
	int g;

	memset(rl, 0, sizeof(*rl));
	for (g = 0; g < RL_NGROUPS; g++)
		rl->limit[g] = groups[g].limit;
	rl->ban_after = 10;
	rl->ban_ms = 30000;
	rl->ban_max_ms = 3600000;
}

void rl_reset(struct ratelimit *rl)
{
	memset(rl->clients, 0, sizeof(rl->clients));
}

/* The client's slot; the least recently seen one is reused when the table is full. */
static struct rl_client *client_for(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	struct rl_client *victim = &rl->clients[0];
	int i;

	for (i = 0; i < RL_CLIENTS; i++) {
		struct rl_client *c = &rl->clients[i];

		if (c->key[0] && strcmp(c->key, key) == 0)
			return c;
		if (!c->key[0] || c->last_ms < victim->last_ms)
			victim = c;
		if (!c->key[0])
			break;
	}
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->last_ms = now_ms;
	return victim;
}

enum rl_verdict rl_check(struct ratelimit *rl, const char *key, enum rl_group g, int64_t now_ms,
			 int *remaining, int64_t *retry_ms)
{
	struct rl_client *c = client_for(rl, key, now_ms);
	int64_t win = now_ms / 1000;

	c->last_ms = now_ms;
	*retry_ms = 0;
	if (c->ban_until_ms > now_ms) {
		*remaining = 0;
		*retry_ms = c->ban_until_ms - now_ms;
		return RL_418;
	}
	if (c->window[g] != win) {
		c->window[g] = win;
		c->count[g] = 0;
	}
	c->count[g]++;
	if (c->count[g] <= rl->limit[g]) {
		c->consecutive_429 = 0;
		*remaining = rl->limit[g] - c->count[g];
		return RL_OK;
	}
	*remaining = 0;
	if (++c->consecutive_429 > rl->ban_after) {
		int64_t len = rl->ban_ms;
		int i;

		for (i = 0; i < c->bans && len < rl->ban_max_ms; i++)
			len *= 2;
		if (len > rl->ban_max_ms)
			len = rl->ban_max_ms;
		c->bans++;
		c->consecutive_429 = 0;
		c->ban_until_ms = now_ms + len;
		*retry_ms = len;
		return RL_418;
	}
	return RL_429;
}

int rl_peek(struct ratelimit *rl, const char *key, enum rl_group g, int64_t now_ms)
{
	int i;

	for (i = 0; i < RL_CLIENTS; i++) {
		struct rl_client *c = &rl->clients[i];

		if (c->key[0] && strcmp(c->key, key) == 0)
			return c->window[g] == now_ms / 1000 && c->count[g] <= rl->limit[g]
				       ? rl->limit[g] - c->count[g]
				       : (c->window[g] == now_ms / 1000 ? 0 : rl->limit[g]);
	}
	return rl->limit[g];
}

/* The strategy section's small grammars, shared by the config check and the strategy worker:
 * a market entry "MARKET[:STRATEGY[:key=value,...]]" and a time of day "HH:MM". */
#ifndef TD_STRATEGY_CONF_H
#define TD_STRATEGY_CONF_H

#include <stddef.h>

#define STRAT_NAME_LEN 256
#define STRAT_MAX_PARAMS 8
#define STRAT_PARAM_LEN 32

struct strat_param {
	char key[STRAT_PARAM_LEN];
	char value[STRAT_PARAM_LEN];
};

struct strat_entry {
	char market[24];
	char strategy[STRAT_NAME_LEN]; /* "" for strategy.name; a path with '/' is a plugin */
	size_t n_params;
	struct strat_param params[STRAT_MAX_PARAMS];
};

/* 0, or -1 with why in err. */
int strat_entry_parse(const char *text, struct strat_entry *out, char *err, size_t len);
/* The value of a parameter, or NULL. */
const char *strat_entry_param(const struct strat_entry *e, const char *key);
/* "HH:MM" (00:00..24:00) as minutes of the day; -1 when malformed. */
int strat_time_of_day(const char *text);

#endif

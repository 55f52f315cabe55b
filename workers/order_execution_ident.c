/* Order-execution's exactly-once vocabulary: exchange identifiers derived from the database's
 * instance, the intent and the attempt; how an answer to a POST is classified; crash points. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "workers/order_execution.h"

/* "td-" instance "-" intent "-" attempt: unique across databases (the random instance), across
 * intents, and across the attempts of one intent, which Upbit needs since it burns an
 * identifier even when it refuses the order. */
void oe_identifier(const char *instance, int64_t intent_id, int attempt, char *buf, size_t len)
{
	snprintf(buf, len, "td-%s-%" PRId64 "-%d", instance, intent_id, attempt);
}

int oe_instance_new(char out[OE_INSTANCE_LEN])
{
	unsigned char r[8];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* Names under which Upbit refuses an order for good: retrying the same order cannot help. */
static const char *const refusal_prefixes[] = {
	"insufficient_funds", "under_min_total",  "over_max_total",    "invalid_price",
	"invalid_volume",     "invalid_market",	  "market_offline",    "validation_error",
	"create_bid_error",   "create_ask_error", "invalid_parameter", "not_supported_ord_type",
	"invalid_ord_type",   "invalid_side",	  "out_of_scope",      "market_does_not_exist",
};

/* Names that say the request was not taken and that another attempt later may pass. */
static const char *const not_placed_names[] = {
	"jwt_verification",	 "expired_access_key",	   "nonce_used",
	"no_authorization_ip",	 "no_authorization_token", "invalid_access_key",
	"invalid_query_payload", "too_many_requests",
};

enum oe_outcome oe_classify(enum upbit_status status, const char *error_name)
{
	switch (status) {
	case UPBIT_OK:
		return OE_PLACED;
	case UPBIT_ERR_RATE_LIMITED:
	case UPBIT_ERR_BLOCKED:
	case UPBIT_ERR_CIRCUIT_OPEN:
		return OE_NOT_PLACED;
	case UPBIT_ERR_API:
		break;
	default:
		/* Timeout, reset, 5xx, a reply we cannot read: it may have been applied. */
		return OE_UNKNOWN;
	}
	if (!error_name)
		return OE_UNKNOWN;
	if (strcmp(error_name, "duplicate_identifier") == 0)
		return OE_DUPLICATE;
	for (size_t i = 0; i < sizeof(not_placed_names) / sizeof(not_placed_names[0]); i++)
		if (strcmp(error_name, not_placed_names[i]) == 0)
			return OE_NOT_PLACED;
	for (size_t i = 0; i < sizeof(refusal_prefixes) / sizeof(refusal_prefixes[0]); i++)
		if (strncmp(error_name, refusal_prefixes[i], strlen(refusal_prefixes[i])) == 0)
			return OE_REFUSED;
	/* A 4xx we do not know: the exchange answered, so nothing was placed, but another try
	 * would meet the same answer. */
	return OE_REFUSED;
}

static const char *const crash_names[OE_CRASH_COUNT] = {
	[OE_CRASH_PICKED_UP] = "picked-up",	    [OE_CRASH_AFTER_SENDING] = "after-sending",
	[OE_CRASH_AFTER_POST] = "after-post",	    [OE_CRASH_AFTER_REPLY] = "after-reply",
	[OE_CRASH_BETWEEN_FILLS] = "between-fills",
};

const char *oe_crash_name(enum oe_crash c)
{
	return (unsigned)c < OE_CRASH_COUNT ? crash_names[c] : "?";
}

int oe_crash_armed(const struct worker *w)
{
	return worker_fault(w, "crash-at") != NULL;
}

/* TRADINGD_FAULT=order-execution:crash-at:NAME[,NAME...] dies by SIGKILL the first time each
 * named point is reached: a marker file in data_dir remembers that it did, so the restarted
 * worker goes on (the supervisor's restart is what is being tested, not a crash loop). */
void oe_crash_point(struct oe *oe, enum oe_crash c)
{
	const char *arg = worker_fault(oe->w, "crash-at");
	const char *name = oe_crash_name(c);
	char path[4096];
	size_t n = strlen(name);
	const char *p;
	int fd;

	if (!arg)
		return;
	for (p = arg; (p = strstr(p, name)) != NULL; p += n)
		if ((p == arg || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			break;
	if (!p)
		return;
	snprintf(path, sizeof(path), "%s/crash-at-%s.done", oe->w->cfg.s.data_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* crashed there once already (or cannot remember it: do not loop) */
	fsync(fd);
	close(fd);
	log_warnx("fault injected: crash at %s", name);
	raise(SIGKILL);
}

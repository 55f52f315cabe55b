/* What the supervisor does with each message from a worker (the hub of ARCHITECTURE.md), and
 * the heartbeat that finds hung workers. Nothing is routed to a worker before it said READY. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

void send_config(struct proc *p)
{
	size_t len = strlen(p->sup->cfg.text);

	if (!p->peer)
		return;
	if (len + 1 > IPC_MAX_PAYLOAD ||
	    ipc_send(p->peer, IPC_CONFIG, p->sup->cfg.text, (uint32_t)len) < 0)
		log_errx("%s: cannot send the config", role_name(p->role));
}

/* Forwards to a worker that is RUNNING; ticks and market states coalesce per market. */
static void forward(struct supervisor *sup, enum role to, const struct ipc_hdr *hdr,
		    const void *payload, const char *key)
{
	struct proc *dest = &sup->procs[to];
	int rc;

	if (dest->state != PROC_RUNNING || !dest->peer)
		return; /* the consumer rebuilds from SQLite when it starts */
	rc = ipc_send_coalesce(dest->peer, hdr->type, key, payload, hdr->len);
	if (rc < 0)
		log_debug("%s to %s dropped: %d", ipc_type_name(hdr->type), role_name(to), rc);
}

static void market_key(const void *payload, char *key, size_t len)
{
	/* Every per-market payload starts with the NUL-padded market code. */
	snprintf(key, len, "%.*s", IPC_MARKET_LEN - 1, (const char *)payload);
}

void route_message(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	struct supervisor *sup = p->sup;
	char key[IPC_MARKET_LEN];
	uint64_t seq;

	switch (hdr->type) {
	case IPC_READY: {
		struct ipc_ready ready;

		memcpy(&ready, payload, sizeof(ready));
		if (ready.version != IPC_VERSION || ready.role != (uint32_t)p->role) {
			log_errx("%s: READY for protocol %u role %u, expected %u role %u: killing",
				 role_name(p->role), ready.version, ready.role, IPC_VERSION,
				 (unsigned)p->role);
			proc_event(p, EV_HUNG);
			return;
		}
		proc_event(p, EV_READY);
		return;
	}
	case IPC_PONG:
		memcpy(&seq, payload, sizeof(seq));
		if (seq > 0 && seq <= p->ping_seq)
			p->last_pong_mono = clock_mono_ms();
		return;
	case IPC_STATUS:
		free(p->status_json);
		p->status_json = strndup((const char *)payload + sizeof(uint64_t),
					 hdr->len - sizeof(uint64_t));
		return;
	default:
		break;
	}
	if (p->state != PROC_RUNNING) {
		log_warnx("%s: %s before READY: ignored", role_name(p->role),
			  ipc_type_name(hdr->type));
		return;
	}
	switch (hdr->type) {
	case IPC_TICK:
	case IPC_CANDLE:
	case IPC_MARKET_STATE:
		if (p->role != ROLE_MARKET_DATA)
			break;
		market_key(payload, key, sizeof(key));
		forward(sup, ROLE_STRATEGY, hdr, payload, hdr->type == IPC_CANDLE ? NULL : key);
		return;
	case IPC_ALERT:
		forward(sup, ROLE_NOTIFIER, hdr, payload, NULL);
		return;
	default:
		break;
	}
	log_errx("%s: sent %s, which it must not send: a bug", role_name(p->role),
		 ipc_type_name(hdr->type));
}

void heartbeat_tick(uv_timer_t *timer)
{
	struct supervisor *sup = timer->data;
	int64_t now = clock_mono_ms();
	int64_t timeout = config_int(&sup->cfg, "supervisor.heartbeat_timeout_ms");

	/* The simulator is pinged like a worker (a SIGSTOPped one still accepts TCP), but it has
	 * no status to report. */
	for (int i = 0; i < ROLE_COUNT; i++) {
		struct proc *p = &sup->procs[i];

		if (p->state != PROC_RUNNING || !p->peer)
			continue;
		if (now - p->last_pong_mono > timeout) {
			proc_event(p, EV_HUNG);
			continue;
		}
		p->ping_seq++;
		ipc_send(p->peer, IPC_PING, &p->ping_seq, sizeof(p->ping_seq));
		if (i < ROLE_WORKER_COUNT)
			ipc_send(p->peer, IPC_STATUS_REQ, &p->ping_seq, sizeof(p->ping_seq));
	}
}

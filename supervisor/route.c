/* What the supervisor does with each message from a worker (the hub of ARCHITECTURE.md), as one
 * table, and the heartbeat that finds hung workers. Nothing is routed to a worker before it
 * said READY; what a worker may not send is a bug in it, and it is restarted. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/job_dispatch.h"
#include "supervisor/supervisor.h"

#define ANY_WORKER ((1u << ROLE_WORKER_COUNT) - 1)
#define ANY_PROC ((1u << ROLE_COUNT) - 1)
#define TO_SUPERVISOR ROLE_COUNT

enum route_key {
	KEY_NONE,   /* every message is delivered */
	KEY_MARKET, /* a newer message for the same market replaces a queued one */
};

enum route_offline {
	OFFLINE_DROP, /* the consumer rescans SQLite when it starts: nothing to keep */
	OFFLINE_HOLD, /* kept (latest per key) until the consumer is RUNNING again */
};

struct route {
	unsigned senders; /* ROLE_BIT of every role that may send it; 0: the supervisor only */
	int dest;	  /* a role, or TO_SUPERVISOR */
	enum route_key key;
	enum route_offline offline;
	void (*handle)(struct proc *p, const struct ipc_hdr *hdr, const void *payload);
};

static void on_ready(struct proc *p, const struct ipc_hdr *hdr, const void *payload);
static void on_pong(struct proc *p, const struct ipc_hdr *hdr, const void *payload);
static void on_status(struct proc *p, const struct ipc_hdr *hdr, const void *payload);
static void on_job_done(struct proc *p, const struct ipc_hdr *hdr, const void *payload);
static void on_metrics_req(struct proc *p, const struct ipc_hdr *hdr, const void *payload);
static void on_procs_req(struct proc *p, const struct ipc_hdr *hdr, const void *payload);

/* Adding a message type: a row in ipc/ipc_types.c and a row here. */
static const struct route routes[IPC_TYPE_END] = {
	[IPC_READY] = {ANY_PROC, TO_SUPERVISOR, KEY_NONE, OFFLINE_DROP, on_ready},
	[IPC_PONG] = {ANY_PROC, TO_SUPERVISOR, KEY_NONE, OFFLINE_DROP, on_pong},
	[IPC_STATUS] = {ANY_WORKER, TO_SUPERVISOR, KEY_NONE, OFFLINE_DROP, on_status},
	[IPC_TICK] = {ROLE_BIT(ROLE_MARKET_DATA), ROLE_STRATEGY, KEY_MARKET, OFFLINE_DROP, NULL},
	[IPC_CANDLE] = {ROLE_BIT(ROLE_MARKET_DATA), ROLE_STRATEGY, KEY_NONE, OFFLINE_DROP, NULL},
	[IPC_MARKET_STATE] = {ROLE_BIT(ROLE_MARKET_DATA), ROLE_STRATEGY, KEY_MARKET, OFFLINE_HOLD,
			      NULL},
	[IPC_ALERT] = {ANY_WORKER, ROLE_NOTIFIER, KEY_NONE, OFFLINE_DROP, NULL},
	[IPC_JOB_DONE] = {ANY_WORKER, TO_SUPERVISOR, KEY_NONE, OFFLINE_DROP, on_job_done},
	/* Both ends rescan their tables at start: a nudge lost while one is down costs a scan. */
	[IPC_ORDER_INTENT] = {ROLE_BIT(ROLE_STRATEGY), ROLE_ORDER_EXECUTION, KEY_NONE, OFFLINE_DROP,
			      NULL},
	[IPC_FILL] = {ROLE_BIT(ROLE_ORDER_EXECUTION), ROLE_STRATEGY, KEY_NONE, OFFLINE_DROP, NULL},
	/* The api worker asks, the supervisor answers METRICS (no row: the supervisor's to send). */
	[IPC_METRICS_REQ] = {ROLE_BIT(ROLE_API), TO_SUPERVISOR, KEY_NONE, OFFLINE_DROP,
			     on_metrics_req},
	/* The writer keeps the alert and stores it later: a copy lost here is only late. */
	[IPC_ALERT_TEXT] = {ANY_WORKER, ROLE_NOTIFIER, KEY_NONE, OFFLINE_DROP, NULL},
	/* Telegram's /status: the process table as text, so that no HTTP enters here. */
	[IPC_PROCS_REQ] = {ROLE_BIT(ROLE_NOTIFIER), TO_SUPERVISOR, KEY_NONE, OFFLINE_DROP,
			   on_procs_req},
	/* PING, CONFIG, SHUTDOWN, STATUS_REQ, PEER_STATE, JOB_RUN, METRICS, PROCS: the
	 * supervisor's, no row. */
};

/* Each worker gets its share only: no section it does not use, no secret it does not hold.
 * The simulator gets none: its command line configures it. */
void send_config(struct proc *p)
{
	const char *text;
	size_t len;

	if (!p->peer || role_info(p->role)->binary == ROLE_BIN_SIM)
		return;
	text = p->sup->shares[p->role];
	len = text ? strlen(text) : 0;
	if (!text || len + 1 > IPC_MAX_PAYLOAD ||
	    ipc_send(p->peer, IPC_CONFIG, text, (uint32_t)len) < 0)
		log_errx("%s: cannot send the config", role_name(p->role));
}

int route_make_shares(const struct config *cfg, char *shares[ROLE_WORKER_COUNT])
{
	for (int r = 0; r < ROLE_WORKER_COUNT; r++) {
		shares[r] = config_text_for_role(cfg, (enum role)r);
		if (!shares[r]) {
			route_free_shares(shares);
			return -1;
		}
	}
	return 0;
}

void route_free_shares(char *shares[ROLE_WORKER_COUNT])
{
	for (int r = 0; r < ROLE_WORKER_COUNT; r++) {
		free(shares[r]);
		shares[r] = NULL;
	}
}

/* A worker that breaks the protocol is broken: killed, and the policy restarts it. */
static void protocol_violation(struct proc *p, const char *what)
{
	log_msg(LOG_LVL_CRIT, "%s: protocol violation: %s: killing pid %d", role_name(p->role),
		what, p->pid);
	snprintf(p->kill_reason, sizeof(p->kill_reason), "protocol violation");
	if (p->pid > 0)
		kill(p->pid, SIGKILL);
}

static void on_ready(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	struct ipc_ready ready;
	char what[128];

	(void)hdr;
	memcpy(&ready, payload, sizeof(ready));
	if (ready.version != IPC_VERSION) {
		snprintf(what, sizeof(what),
			 "it speaks IPC protocol %u, this supervisor %u (an upgrade left an old "
			 "binary?)",
			 ready.version, (unsigned)IPC_VERSION);
		protocol_violation(p, what);
		return;
	}
	if (ready.role != (uint32_t)p->role) {
		snprintf(what, sizeof(what), "READY as role %u (%s)", ready.role,
			 role_name((enum role)ready.role));
		protocol_violation(p, what);
		return;
	}
	proc_event(p, EV_READY);
}

static void on_pong(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	uint64_t seq;

	(void)hdr;
	memcpy(&seq, payload, sizeof(seq));
	if (seq > 0 && seq <= p->ping_seq)
		p->last_pong_mono = clock_mono_ms();
	/* A late pong (pings sent since) counts too, up to 8 pings late. */
	if (seq > 0 && seq <= p->ping_seq && p->ping_seq - seq < 8 && p->ping_sent_mono[seq % 8]) {
		p->pong_last_ms = p->last_pong_mono - p->ping_sent_mono[seq % 8];
		if (p->pong_last_ms > p->pong_worst_ms)
			p->pong_worst_ms = p->pong_last_ms;
	}
}

static void on_status(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	free(p->status_json);
	p->status_json =
		strndup((const char *)payload + sizeof(uint64_t), hdr->len - sizeof(uint64_t));
}

static void on_job_done(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	job_dispatch_done(p, payload, hdr->len);
}

static void on_metrics_req(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	uint64_t id;

	(void)hdr;
	memcpy(&id, payload, sizeof(id));
	metrics_reply(p, id);
}

static void on_procs_req(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	struct {
		uint64_t id;
		char text[IPC_PROCS_TEXT_MAX];
	} m;
	size_t used = 0;

	(void)hdr;
	memcpy(&m.id, payload, sizeof(m.id));
	for (int i = 0; i < ROLE_COUNT; i++) {
		const struct proc *q = &p->sup->procs[role_start_order()[i]];
		int w;

		if (!proc_enabled(q) && q->pid == 0)
			continue;
		w = snprintf(m.text + used, sizeof(m.text) - used, "%s%s %s", used ? "\n" : "",
			     role_name(q->role), proc_state_name(q->state));
		if (w > 0 && (size_t)w < sizeof(m.text) - used)
			used += (size_t)w;
		if (q->restarts) {
			w = snprintf(m.text + used, sizeof(m.text) - used, ", %llu restarts",
				     (unsigned long long)q->restarts);
			if (w > 0 && (size_t)w < sizeof(m.text) - used)
				used += (size_t)w;
		}
	}
	if (p->peer)
		ipc_send(p->peer, IPC_PROCS, &m, (uint32_t)(sizeof(m.id) + used));
}

static void key_of(const struct route *r, const void *payload, char *key, size_t len)
{
	key[0] = '\0';
	/* Every per-market payload starts with the NUL-padded market code. */
	if (r->key == KEY_MARKET)
		snprintf(key, len, "%.*s", IPC_MARKET_LEN - 1, (const char *)payload);
}

/* Keeps the latest message per key for a consumer that is not RUNNING; bounded. */
static void hold(struct proc *dest, uint32_t type, const char *key, const void *payload,
		 uint32_t len)
{
	struct held_msg *h = NULL;

	for (int i = 0; i < dest->nheld && !h; i++)
		if (dest->held[i].type == type && strcmp(dest->held[i].key, key) == 0)
			h = &dest->held[i];
	if (len > ROUTE_HOLD_PAYLOAD)
		fatalx("route table: %s is too large to hold", ipc_type_name(type));
	if (!dest->held && !(dest->held = calloc(ROUTE_HOLD_MAX, sizeof(*dest->held)))) {
		dest->held_dropped++;
		return;
	}
	if (!h && dest->nheld == ROUTE_HOLD_MAX) {
		dest->held_dropped++;
		return;
	}
	if (!h)
		h = &dest->held[dest->nheld++];
	h->type = type;
	h->len = len;
	snprintf(h->key, sizeof(h->key), "%s", key);
	memcpy(h->payload, payload, len);
}

void route_flush_held(struct proc *dest)
{
	for (int i = 0; i < dest->nheld && dest->peer; i++) {
		const struct held_msg *h = &dest->held[i];

		if (ipc_send_coalesce(dest->peer, h->type, h->key, h->payload, h->len) < 0)
			dest->held_dropped++;
	}
	dest->nheld = 0;
}

static void forward(struct supervisor *sup, const struct route *r, const struct ipc_hdr *hdr,
		    const void *payload)
{
	struct proc *dest = &sup->procs[r->dest];
	char key[IPC_MARKET_LEN];
	int rc;

	key_of(r, payload, key, sizeof(key));
	if (dest->state != PROC_RUNNING || !dest->peer) {
		if (r->offline == OFFLINE_HOLD)
			hold(dest, hdr->type, key, payload, hdr->len);
		return;
	}
	rc = ipc_send_coalesce(dest->peer, hdr->type, key, payload, hdr->len);
	if (rc < 0)
		log_debug("%s to %s dropped: %d", ipc_type_name(hdr->type), role_name(dest->role),
			  rc);
}

void route_message(struct proc *p, const struct ipc_hdr *hdr, const void *payload)
{
	const struct route *r = &routes[hdr->type]; /* the peer checked the type's range */
	char what[96];

	if (!(r->senders & ROLE_BIT(p->role))) {
		snprintf(what, sizeof(what), "sent %s, which it may not send",
			 ipc_type_name(hdr->type));
		protocol_violation(p, what);
		return;
	}
	if (r->dest == TO_SUPERVISOR) {
		r->handle(p, hdr, payload);
		return;
	}
	/* A worker being stopped may still have sent what it did before it read SHUTDOWN: only
	 * one that has not said READY yet breaks the protocol. */
	if (p->state == PROC_STARTING) {
		snprintf(what, sizeof(what), "sent %s before READY", ipc_type_name(hdr->type));
		protocol_violation(p, what);
		return;
	}
	forward(p->sup, r, hdr, payload);
}

/* Tells every worker that depends on changed whether it can do its part now. */
void route_peer_state(struct supervisor *sup, const struct proc *changed)
{
	struct ipc_peer_state st = {.role = (uint32_t)changed->role,
				    .running = changed->state == PROC_RUNNING,
				    .since_ms = clock_now_ms()};

	for (int i = 0; i < ROLE_WORKER_COUNT; i++) {
		struct proc *p = &sup->procs[i];

		if (p->peer && p->state == PROC_RUNNING &&
		    (role_info(p->role)->depends_on & ROLE_BIT(changed->role)))
			ipc_send_coalesce(p->peer, IPC_PEER_STATE, role_name(changed->role), &st,
					  sizeof(st));
	}
}

/* A worker that has just said READY learns the state of everything it depends on. */
void route_worker_ready(struct proc *p)
{
	struct supervisor *sup = p->sup;

	if ((unsigned)p->role >= ROLE_WORKER_COUNT)
		return;
	for (int r = 0; r < ROLE_COUNT; r++) {
		const struct proc *dep = &sup->procs[r];
		struct ipc_peer_state st = {.role = (uint32_t)r,
					    .running = dep->state == PROC_RUNNING ||
						       !proc_enabled(dep),
					    .since_ms = clock_now_ms()};

		if (role_info(p->role)->depends_on & ROLE_BIT(r))
			ipc_send_coalesce(p->peer, IPC_PEER_STATE, role_name((enum role)r), &st,
					  sizeof(st));
	}
	route_flush_held(p);
}

void heartbeat_tick(uv_timer_t *timer)
{
	struct supervisor *sup = timer->data;
	int64_t now = clock_mono_ms();
	int64_t timeout = sup->cfg.s.supervisor.heartbeat_timeout_ms;

	if (sup->outbox.n)
		outbox_retry(&sup->outbox);

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
		p->ping_sent_mono[p->ping_seq % 8] = now;
		ipc_send(p->peer, IPC_PING, &p->ping_seq, sizeof(p->ping_seq));
		if (i < ROLE_WORKER_COUNT)
			ipc_send(p->peer, IPC_STATUS_REQ, &p->ping_seq, sizeof(p->ping_seq));
	}
}

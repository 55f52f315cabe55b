/* Shared state and module boundaries of the Upbit exchange simulator (bin/upbit-sim).
 * One mutex (sim->lock) guards all mutable state: HTTP threads and the engine thread share it. */
#ifndef SIM_STATE_H
#define SIM_STATE_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define SIM_MAX_MARKETS 256
#define SIM_MAX_ACCOUNTS 16
#define SIM_BOOK_LEVELS 30
#define SIM_MAX_TICKS 16 /* trades generated per minute at most */
#define SIM_FEE 0.0005
#define SIM_MIN_TOTAL 5000.0
#define SIM_MAX_BODY (64 * 1024) /* larger request bodies are refused with 413 */
#define SIM_IDENT_MAX 64

/* ---- rng.c: seeded splitmix64, so one --seed gives one price history ---- */
struct sim_rng {
	uint64_t s;
};
void rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t rng_next(struct sim_rng *r);
double rng_unit(struct sim_rng *r); /* [0, 1) */
double rng_normal(struct sim_rng *r);

/* ---- decimal.c: exchange number rules (tick grid, 8-decimal amounts, decimal strings) ---- */
double tick_size_krw(double price);
int tick_on_grid(double price, double tick);
double round_to_tick(double price); /* nearest grid price */
double round8(double v);
double floor8(double v);
/* Upbit-style decimal string: up to 8 decimals, trailing zeros trimmed, at least one decimal. */
void dec_format(double v, char *buf, size_t len);
json_t *dec_json(double v);
/* Parses a JSON string or number as a finite decimal; -1 when absent or invalid. */
int dec_parse_json(json_t *v, double *out);

/* ---- candles.c: minute ring and day ring per market ---- */
struct sim_candle {
	double open, high, low, close;
	double volume; /* base currency */
	double value;  /* quote currency (KRW) */
	int64_t last_ms;
	int has_trade;
};

struct candle_ring {
	struct sim_candle *slots;
	size_t cap;
	int64_t head; /* index (minute or day number) of the newest slot */
	size_t count;
	int64_t span_ms; /* 60000 or 86400000 */
};

int candle_ring_init(struct candle_ring *r, size_t cap, int64_t span_ms);
void candle_ring_free(struct candle_ring *r);
/* Slot for index idx; NULL when outside the ring. */
struct sim_candle *candle_ring_at(struct candle_ring *r, int64_t idx);
/* Extends the ring up to idx (empty slots in between) and returns that slot. */
struct sim_candle *candle_ring_extend(struct candle_ring *r, int64_t idx);
void candle_merge(struct sim_candle *into, const struct sim_candle *c);

/* ---- price_process.c: one trade stream per market ---- */
struct sim_tick {
	int64_t ms;
	double price;
	double volume;
};

struct replay_row {
	int64_t ms; /* minute start */
	double open, high, low, close, volume;
};

struct sim_market {
	char code[24]; /* "KRW-BTC" */
	char base[16]; /* "BTC" */
	char korean_name[64];
	char english_name[64];
	struct sim_rng rng;
	double walk; /* underlying continuous price */
	double start_price;
	struct candle_ring minutes;
	struct candle_ring days;
	int64_t cur_min; /* minute whose ticks are in ticks[] */
	struct sim_tick ticks[SIM_MAX_TICKS];
	int nticks;
	int visible; /* ticks of cur_min at or before now */
	double last_price, last_volume;
	int64_t last_trade_ms;
	struct replay_row *replay;
	size_t nreplay, replay_pos;
};

struct price_params {
	uint64_t seed;
	double volatility; /* stdev of the log price per minute */
	double gap_prob;   /* probability that a minute has no trade */
	int history_min;   /* minutes of 1-minute history kept (and generated at start) */
	int history_days;  /* synthetic day candles before the minute history */
};

typedef void (*tick_cb)(void *ctx, struct sim_market *m, const struct sim_tick *t);

int market_init(struct sim_market *m, const char *code, double start_price, unsigned index,
		const struct price_params *pp, int64_t now_ms);
void market_free(struct sim_market *m);
/* Generates trades up to now_ms, calling cb for each newly visible tick (cb may be NULL). */
void market_advance(struct sim_market *m, const struct price_params *pp, int64_t now_ms, tick_cb cb,
		    void *ctx);
/* The candle made of the visible ticks of the current minute; 0 when it has a trade. */
int market_partial(const struct sim_market *m, struct sim_candle *out);
/* Loads CSV replay rows ("[market,]ts_ms,open,high,low,close,volume"). Returns rows or -1. */
int replay_load(const char *path, const char *default_market, struct sim_market *markets,
		size_t nmarkets, char *err, size_t errlen);

/* Builds candles of unit minutes (1..240) or days (unit 0) newest first, start < to_ms. */
size_t candles_query(const struct sim_market *m, int unit, int64_t to_ms, size_t count,
		     struct sim_candle *out, int64_t *starts);
json_t *candle_json(const struct sim_market *m, int unit, int64_t start_ms,
		    const struct sim_candle *c, double prev_close);

/* Orderbook levels synthesized around the last price. */
struct book_level {
	double ask_price, ask_size, bid_price, bid_size;
};
void book_build(const struct sim_market *m, int64_t now_ms, struct book_level out[SIM_BOOK_LEVELS]);

/* ---- orders.c: accounts, order validation, matching and fees ---- */
enum ord_side { SIDE_BID, SIDE_ASK };
enum ord_type { ORD_LIMIT, ORD_PRICE, ORD_MARKET, ORD_BEST };
enum ord_tif { TIF_NONE, TIF_IOC, TIF_FOK, TIF_POST_ONLY };
enum ord_state { ST_WAIT, ST_DONE, ST_CANCEL };

struct sim_fill {
	char uuid[37];
	double price, volume, funds;
	int64_t ms;
};

struct sim_order {
	char uuid[37];
	char identifier[SIM_IDENT_MAX + 1];
	int account, market;
	enum ord_side side;
	enum ord_type type;
	enum ord_tif tif;
	enum ord_state state;
	double price;  /* limit price, or the KRW total of price/best bids; <0 when null */
	double volume; /* <0 when null */
	double remaining_volume, executed_volume, executed_funds;
	double reserved_fee, remaining_fee, paid_fee, locked;
	int64_t created_ms, closed_ms;
	int cancel_pending;
	struct sim_fill *fills;
	size_t nfills, fills_cap;
};

struct sim_asset {
	double balance, locked, avg_buy_price;
};

struct sim_account {
	char access_key[128];
	char secret_key[128];
	struct sim_asset krw;
	struct sim_asset coins[SIM_MAX_MARKETS];
};

struct ident_entry {
	struct ident_entry *next;
	int account;
	int attempts;
	int created;
	struct sim_order *order;
	char identifier[SIM_IDENT_MAX + 1];
};

#define IDENT_BUCKETS 4096

struct order_book_keeper {
	struct sim_order **all;
	size_t n, cap, max;
	struct sim_order **open; /* orders in state wait, in creation order */
	size_t nopen;
	struct ident_entry *ident[IDENT_BUCKETS];
	size_t nident;
};

/* What an order request asked for, after JSON parsing. */
struct order_request {
	int account;
	const char *market;
	const char *side;
	const char *ord_type;
	const char *time_in_force;
	const char *identifier;
	json_t *price, *volume;
};

struct order_error {
	int status;
	char name[64];
	char message[160];
};

struct sim;
/* Validates, registers and (for taker orders) executes. Returns the order or NULL with err.
 * With test_only nothing is stored or burnt and the caller frees the order (order_destroy). */
struct sim_order *order_place(struct sim *s, const struct order_request *rq, int test_only,
			      struct order_error *err);
struct sim_order *order_find(struct sim *s, int account, const char *uuid, const char *identifier);
void order_match_tick(struct sim *s, struct sim_market *m, const struct sim_tick *t);
void orders_apply_cancels(struct sim *s);
json_t *order_json(const struct sim *s, const struct sim_order *o, int with_trades);
json_t *asset_json(const char *currency, const struct sim_asset *a);
void orders_free(struct order_book_keeper *k);
void order_destroy(struct sim_order *o);
/* Asks for a cancel that the next engine tick applies. 0, or -1 when not open. */
int order_request_cancel(struct sim_order *o);
json_t *orders_admin_json(const struct sim *s);

/* ---- ratelimit.c: per-group per-second windows, 429 then 418 escalation ---- */
enum rl_group {
	RL_MARKET,
	RL_CANDLE,
	RL_TRADE,
	RL_TICKER,
	RL_ORDERBOOK,
	RL_DEFAULT,
	RL_ORDER,
	RL_ORDER_TEST,
	RL_NGROUPS
};

#define RL_CLIENTS 64

struct rl_client {
	char key[128]; /* IP for quotation groups, access key for exchange groups */
	int64_t window[RL_NGROUPS];
	int count[RL_NGROUPS];
	int consecutive_429;
	int bans;
	int64_t ban_until_ms;
	int64_t last_ms;
};

struct ratelimit {
	int limit[RL_NGROUPS];
	int ban_after;	/* consecutive 429s that turn into a ban */
	int64_t ban_ms; /* first ban length; doubles on each repeat */
	int64_t ban_max_ms;
	struct rl_client clients[RL_CLIENTS];
};

enum rl_verdict { RL_OK, RL_429, RL_418 };

const char *rl_group_name(enum rl_group g);
int rl_group_parse(const char *name);
enum rl_group rl_group_for(const char *method, const char *path);
void rl_init(struct ratelimit *rl);
/* Counts one request at now_ms (monotonic). remaining gets the budget left this second;
 * retry_ms the ban time left when banned. */
enum rl_verdict rl_check(struct ratelimit *rl, const char *key, enum rl_group g, int64_t now_ms,
			 int *remaining, int64_t *retry_ms);
void rl_reset(struct ratelimit *rl);
/* Budget left this second without counting a request. */
int rl_peek(struct ratelimit *rl, const char *key, enum rl_group g, int64_t now_ms);

/* ---- query.c: query strings and the query_hash input ---- */
struct qparam {
	char *key;
	char *value;
};

struct query {
	struct qparam *p;
	size_t n;
	char *hash_input; /* percent-decoded query in received order */
};

int query_parse(const char *raw, struct query *q);
const char *query_get(const struct query *q, const char *key);
void query_free(struct query *q);
/* The string a client hashes for a JSON body: key=value in body order, arrays as key[]=v. */
char *query_hash_input_json(json_t *obj);
size_t pct_decode(const char *in, size_t len, char *out, int plus_space);

/* ---- auth.c: JWT verification as Upbit does it ---- */
#define NONCE_RING (1u << 16)
#define NONCE_TABLE (1u << 17)

struct nonce_set {
	uint64_t ring[NONCE_RING];
	size_t ring_head, ring_count;
	uint64_t table[NONCE_TABLE]; /* 0 = empty */
};

struct auth_error {
	int status;
	const char *name;
	const char *message;
};

/* Returns the account index, or -1 with err filled. hash_input NULL means no parameters. */
int auth_check(struct sim *s, const char *authorization, const char *hash_input,
	       struct auth_error *err);
/* The access key claimed by a token without verifying it (for rate-limit scoping). */
int auth_peek_key(const char *authorization, char *out, size_t len);
int nonce_seen(struct nonce_set *ns, const char *access_key, const char *nonce);

/* ---- recorder.c: bounded log of received requests ---- */
struct rec_entry {
	uint64_t seq;
	int64_t recv_ms;      /* real wall clock */
	int64_t recv_mono_us; /* CLOCK_MONOTONIC, microseconds */
	int64_t clock_ms;     /* simulator clock */
	int status;	      /* 0 when the connection was dropped */
	int duration_ms;
	char method[8];
	char group[20];
	char path[96];
	char query[256];
	char identifier[SIM_IDENT_MAX + 1];
	char fault[32];
};

struct recorder {
	struct rec_entry *ring;
	size_t cap;
	uint64_t next_seq; /* sequence of the next entry; entries start at 1 */
};

int recorder_init(struct recorder *r, size_t cap);
void recorder_free(struct recorder *r);
void recorder_add(struct recorder *r, const struct rec_entry *e);
json_t *recorder_json(const struct recorder *r, uint64_t since, size_t limit, const char *group);

/* ---- faults.c: run-time fault rules ---- */
enum fault_action {
	FA_LATENCY,
	FA_STATUS,
	FA_BAN,
	FA_MALFORMED,
	FA_RESET,
	FA_HANG,
};

enum malformed_mode {
	MF_TRUNCATED,
	MF_WRONG_TYPES,
	MF_MISSING_FIELDS,
	MF_NAN,
	MF_HUGE,
	MF_GARBAGE,
	MF_EMPTY,
};

#define FAULT_MAX_RULES 32

struct fault_rule {
	int id;
	enum fault_action action;
	int after; /* applied after the request was processed (e.g. order created, reply lost) */
	char path_prefix[96];
	int group; /* -1: any */
	double rate;
	int count;	    /* remaining firings; -1: unlimited */
	int64_t expires_ms; /* real ms; 0: never */
	int64_t ms;
	int statuses[4];
	int nstatuses;
	enum malformed_mode mode;
	int mb;
	int retry_after_s;    /* Retry-After on status replies; 0: none */
	int retry_after_date; /* send it as an HTTP-date instead of seconds */
	int fired;
};

struct fault_plan {
	int64_t latency_ms;
	int64_t hang_ms; /* -1: none, 0: until cleared */
	int hang_after;
	int status; /* 0: none */
	int status_after;
	int64_t ban_ms; /* >0: answer 418 */
	int reset;	/* 1 before, 2 after */
	int malformed;	/* 0 none, else mode + 1 */
	int mb;
	int retry_after_s;
	int retry_after_date;
	char name[32];
};

struct faults {
	struct fault_rule rules[FAULT_MAX_RULES];
	int nrules;
	int next_id;
	uint64_t generation; /* bumped on clear: wakes held requests */
	struct sim_rng rng;
};

void faults_init(struct faults *f, uint64_t seed);
/* Adds rules from a JSON object or {"rules":[...]}; returns count added or -1 with err. */
int faults_add_json(struct faults *f, json_t *body, int64_t now_ms, char *err, size_t errlen);
void faults_clear(struct faults *f);
json_t *faults_json(const struct faults *f);
void faults_plan(struct faults *f, const char *path, int group, int64_t now_ms,
		 struct fault_plan *plan);
/* Rewrites body for a malformed mode; returns a malloc'd body and sets *len. */
char *faults_malform(enum malformed_mode mode, const char *body, size_t len, size_t *outlen);
const char *malformed_name(int mode);

/* ---- the simulator ---- */
struct sim_config {
	char listen_host[64];
	int listen_port;
	char admin_host[64];
	int admin_port; /* -1: no admin port */
	int allow_remote;
	uint64_t seed;
	char markets[SIM_MAX_MARKETS][24];
	int nmarkets;
	int markets_count;
	char candles_file[512];
	char port_file[512];
	struct price_params pp;
	int record_cap;
	int max_orders;
	char dup_ident_error[64];
	int engine_ms;
	int ban_after;
	int64_t ban_ms;
	int rate_override[RL_NGROUPS]; /* 0: default */
	int naccounts;
	struct sim_account accounts[SIM_MAX_ACCOUNTS];
	char holdings[SIM_MAX_ACCOUNTS][512]; /* "COIN=AMOUNT,..." until markets are known */
	int has_clock_start, has_clock_rate;
	int64_t clock_start_ms;
	double clock_rate;
	int log_level;
	int ipc_fd; /* -1: standalone; else the supervisor's socket (--ipc-fd) */
};

struct sim {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* signalled on fault clear, network change and shutdown */
	struct sim_config cfg;
	struct sim_market markets[SIM_MAX_MARKETS];
	int nmarkets;
	struct sim_account *accounts;
	int naccounts;
	struct order_book_keeper orders;
	struct ratelimit rl;
	struct nonce_set *nonces;
	struct recorder rec;
	struct faults faults;
	int network_down;
	int64_t network_up_at; /* real ms at which a timed outage ends; 0: until told */
	int shutting_down;
	int main_port, admin_port;
	struct sim_http *http;
};

/* config.c */
/* Parses argv; 0 ok, 1 when --help was printed, -1 with a one-line message in err. */
int sim_config_parse(struct sim_config *cfg, int argc, char **argv, char *err, size_t errlen);
void sim_config_usage(FILE *out);

/* sim.c */
int sim_init(struct sim *s, const struct sim_config *cfg, char *err, size_t errlen);
void sim_free(struct sim *s);
int sim_market_index(const struct sim *s, const char *code);
void sim_engine_tick(struct sim *s); /* advance prices, apply cancels, match */

/* http_server.c */
int http_start(struct sim *s, char *err, size_t errlen);
void http_stop(struct sim *s);
int http_network_set(struct sim *s, int down, int64_t for_ms);
void http_poll_network(struct sim *s);

/* supervised.c: the worker IPC protocol on --ipc-fd, when tradingd runs the simulator. */
struct sim_supervised;
/* Dies with the parent and closes every other fd above stdio; NULL with err when fd is not a
 * stream socket or the parent is gone already. */
struct sim_supervised *supervised_open(int fd, char *err, size_t errlen);
/* READY {IPC_VERSION, ROLE_SIM}: sent once HTTP listens. 0 or -1. */
int supervised_ready(struct sim_supervised *sv);
/* Waits up to timeout_ms, answering each PING with a PONG; returns early on a signal. 1: go on;
 * 0: stop (SHUTDOWN, or the supervisor went away). A bad frame logs and exits 1. */
int supervised_wait(struct sim_supervised *sv, int timeout_ms);
void supervised_close(struct sim_supervised *sv);

/* A request as the routes see it. */
struct sim_request {
	const char *method;
	const char *path;
	const char *raw_query;
	struct query q;
	const char *body;
	size_t body_len;
	const char *authorization;
	char client_ip[64];
};

struct sim_reply {
	int status;
	char *body; /* malloc'd */
	size_t len;
	const char *content_type;
	int retry_after_s;
	int retry_after_date;
	char identifier[SIM_IDENT_MAX + 1];
};

void reply_json(struct sim_reply *rp, int status, json_t *j); /* steals j */
void reply_text(struct sim_reply *rp, int status, const char *text);
void reply_error(struct sim_reply *rp, int status, const char *name, const char *message);
void reply_error_code(struct sim_reply *rp, int status, const char *message);

/* routes_*.c and admin.c: 0 when handled, -1 when the path is not theirs. Called locked. */
int routes_quotation(struct sim *s, struct sim_request *rq, struct sim_reply *rp);
int routes_exchange(struct sim *s, struct sim_request *rq, struct sim_reply *rp);
int admin_handle(struct sim *s, struct sim_request *rq, struct sim_reply *rp);

/* Time formatting shared by the routes. */
void fmt_kst_iso(int64_t ms, char *buf, size_t len); /* "...T..+09:00" */

#endif

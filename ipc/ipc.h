/* The wire between the supervisor and its workers: one header, every message type with its name
 * and payload size, and a peer that frames messages over a socketpair on a libuv loop. */
#ifndef TD_IPC_H
#define TD_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Bump when a type or a payload layout changes: both ends are built from one tree, but a
 * supervisor upgraded under running workers must notice. */
#define IPC_VERSION 3
/* The worker's end of its socketpair is always this fd. */
#define IPC_WORKER_FD 3
/* The notifier's extra descriptor: the Telegram bot token file, opened by the supervisor. */
#define NOTIFIER_TOKEN_FD 5
#define IPC_MAX_PAYLOAD (1u << 20)
/* Send-queue bounds per peer. When full, ipc_send refuses with -ENOBUFS and counts a drop;
 * ticks and market states coalesce to the latest per market instead of queueing, and the
 * control messages (PING, PONG, SHUTDOWN, READY) may use a reserve of IPC_QUEUE_RESERVE frames.
 * Nothing that matters is lost: truth is in SQLite and consumers rescan. */
#define IPC_QUEUE_MAX_FRAMES 1024
#define IPC_QUEUE_MAX_BYTES (8u << 20)
#define IPC_QUEUE_RESERVE 16

enum ipc_type {
	IPC_READY = 1,	  /* worker → supervisor: struct ipc_ready */
	IPC_PING,	  /* supervisor → worker: uint64_t sequence */
	IPC_PONG,	  /* worker → supervisor: the same uint64_t */
	IPC_CONFIG,	  /* supervisor → worker: the validated config as JSON text */
	IPC_SHUTDOWN,	  /* supervisor → worker: exit cleanly; no payload */
	IPC_STATUS_REQ,	  /* supervisor → worker: uint64_t request id */
	IPC_STATUS,	  /* worker → supervisor: uint64_t id, then JSON text */
	IPC_TICK,	  /* market-data → supervisor → strategy: struct ipc_tick */
	IPC_CANDLE,	  /* market-data → supervisor → strategy: struct ipc_candle */
	IPC_MARKET_STATE, /* market-data → supervisor → strategy: struct ipc_market_state */
	IPC_ALERT,	  /* any → supervisor → notifier: int64_t outbox row id */
	IPC_PEER_STATE,	  /* supervisor → worker: struct ipc_peer_state of a role it needs */
	IPC_JOB_RUN,	  /* supervisor → worker: struct ipc_job_run, then its arguments */
	IPC_JOB_DONE,	  /* worker → supervisor: struct ipc_job_done, then a message */
	IPC_ORDER_INTENT, /* strategy → supervisor → order-execution: int64_t intent row id */
	IPC_FILL,	  /* order-execution → supervisor → strategy: struct ipc_fill */
	IPC_METRICS_REQ,  /* api → supervisor: uint64_t request id */
	IPC_METRICS,	  /* supervisor → api: uint64_t request id, then JSON text */
	IPC_ALERT_TEXT,	  /* any → notifier: struct ipc_alert_text, then the text: an alert
			   * the database refused for now, delivered from memory */
	IPC_PROCS_REQ,	  /* notifier → supervisor: uint64_t request id (Telegram /status) */
	IPC_PROCS,	  /* supervisor → notifier: uint64_t id, then one line per process */

	IPC_TYPE_END,
};

/* The sender's identity in every header: its role (IPC_ID_SUPERVISOR for the supervisor) and
 * its pid. The receiver checks both (ipc_peer_identify): a frame that claims another sender
 * is malformed. */
#define IPC_ID_SUPERVISOR 0xffffu

struct ipc_hdr {
	uint32_t type;
	uint32_t len;  /* payload bytes after the header */
	uint32_t peer; /* the sender's id */
	uint32_t pid;  /* the sender's pid */
};

#define IPC_MARKET_LEN 24

struct ipc_ready {
	uint32_t version;
	uint32_t role;
};

/* Prices and volumes in exact units of 1e-8 (common/dec8.h); a volume beyond dec8's range
 * is -1. */
struct ipc_tick {
	char market[IPC_MARKET_LEN];
	int64_t trade_ts_ms;
	int64_t price_e8;
	int64_t acc_volume_24h_e8;
};

struct ipc_candle {
	char market[IPC_MARKET_LEN];
	int64_t start_ms;
	int32_t unit_min;
	int32_t reserved;
	int64_t open_e8, high_e8, low_e8, close_e8, volume_e8;
};

struct ipc_market_state {
	char market[IPC_MARKET_LEN];
	int64_t since_ms;
	int32_t stale;
	int32_t reserved;
};

/* Whether a role this worker depends on can do its part: RUNNING or not. */
struct ipc_peer_state {
	uint32_t role;
	uint32_t running;
	int64_t since_ms;
};

/* A fill was committed (fills, positions): the strategy rereads the market's position. */
struct ipc_fill {
	char market[IPC_MARKET_LEN];
	int64_t intent_id;
};

/* A job: the supervisor asks a worker to run one of its actions (worker.h) and the worker
 * answers once per run id. The arguments after the struct are JSON text, or nothing. */
#define IPC_ACTION_LEN 32
#define IPC_JOB_MSG_MAX 1024

struct ipc_job_run {
	uint64_t run_id;
	char action[IPC_ACTION_LEN];
};

/* What a run came to: a transient failure may be retried, a permanent one is not. */
enum ipc_job_result {
	JOB_OK = 0,
	JOB_TRANSIENT = 1,
	JOB_PERMANENT = 2,
};

/* An alert that could not be stored yet (full disk): the notifier delivers it from this copy;
 * uid is the key of the row its writer stores later, so it is not delivered again. After the
 * struct, up to IPC_ALERT_TEXT_MAX bytes of text. */
#define IPC_ALERT_UID_LEN 64
#define IPC_ALERT_TEXT_MAX 1024
/* The text after IPC_PROCS's id: "name STATE[, N restarts]" lines. */
#define IPC_PROCS_TEXT_MAX 2048
struct ipc_alert_text {
	char uid[IPC_ALERT_UID_LEN];
	int64_t created_ms;
	char severity[16];
	char source[24];
	char kind[48];
};

/* After the struct, up to IPC_JOB_MSG_MAX bytes of text: the error, or a one-line summary. */
struct ipc_job_done {
	uint64_t run_id;
	uint32_t result;
	uint32_t reserved;
};

/* The name of a type for logs ("TICK"); "UNKNOWN" outside the enum. */
const char *ipc_type_name(uint32_t type);
/* 0 when a payload of len bytes is valid for type, -1 otherwise (unknown type, bad size). */
int ipc_check_size(uint32_t type, uint32_t len);

struct ipc_peer;

enum ipc_close_reason {
	IPC_CLOSED_EOF = 0,
	IPC_CLOSED_ERROR = 1,	  /* read or write failed */
	IPC_CLOSED_MALFORMED = 2, /* the peer sent a bad frame: a bug on its side */
	IPC_CLOSED_LOCAL = 3,	  /* ipc_peer_close was called */
};

typedef void (*ipc_msg_cb)(struct ipc_peer *peer, const struct ipc_hdr *hdr, const void *payload,
			   void *arg);
typedef void (*ipc_close_cb)(struct ipc_peer *peer, enum ipc_close_reason reason, void *arg);

struct ipc_stats {
	uint64_t sent, received, dropped, coalesced;
	uint32_t queued_frames;
	uint32_t queued_bytes;
};

/* Takes ownership of fd. on_close runs once, when the peer stops for any reason other than
 * ipc_peer_close; the peer's memory is released after that callback returns. */
struct ipc_peer *ipc_peer_open(uv_loop_t *loop, int fd, const char *name, ipc_msg_cb on_msg,
			       ipc_close_cb on_close, void *arg);
/* Queues a message. 0, -ENOBUFS when the queue is full, -EPIPE when closed, -EINVAL on a bad
 * size (a bug in the caller). */
int ipc_send(struct ipc_peer *peer, uint32_t type, const void *payload, uint32_t len);
/* Like ipc_send, but replaces a still-queued message of the same type and key. */
int ipc_send_coalesce(struct ipc_peer *peer, uint32_t type, const char *key, const void *payload,
		      uint32_t len);
/* Stamps self_id and our pid on every frame sent, and accepts only frames stamped with
 * expect_id and expect_pid (a frame from anyone else closes the peer as malformed). Without
 * this call frames carry id 0 and nothing is checked (tests of the framing alone). */
void ipc_peer_identify(struct ipc_peer *peer, uint32_t self_id, uint32_t expect_id,
		       uint32_t expect_pid);
void ipc_peer_stats(const struct ipc_peer *peer, struct ipc_stats *out);
const char *ipc_peer_name(const struct ipc_peer *peer);
/* Stops reading and writing and frees the peer once libuv lets go of it; no callback runs. */
void ipc_peer_close(struct ipc_peer *peer);

#endif

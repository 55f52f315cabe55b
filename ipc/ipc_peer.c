/* One end of a socketpair on a libuv loop: reassembles frames, checks each against the type
 * table, and writes from a bounded queue in which ticks coalesce to the latest per key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ipc/ipc.h"

/* Frames per write: a ticker reply of a few hundred markets goes out in one writev. */
#define IPC_WRITE_BATCH 256

struct ipc_frame {
	struct ipc_frame *next;
	char key[IPC_MARKET_LEN + 8]; /* coalescing key; "" when the frame never coalesces */
	uint32_t size;		      /* header + payload */
	union {
		struct ipc_hdr hdr;
		unsigned char bytes[sizeof(struct ipc_hdr)];
	} u;
	/* the payload follows the header in the same allocation */
};

struct ipc_peer {
	uv_pipe_t pipe;
	uv_write_t write_req;
	char name[32];
	ipc_msg_cb on_msg;
	ipc_close_cb on_close;
	void *arg;
	int closing;
	int identified;
	uint32_t self_id, expect_id, expect_pid;

	unsigned char *rbuf;
	size_t rlen, rcap;

	struct ipc_frame *queue_head, *queue_tail; /* not yet handed to libuv */
	struct ipc_frame *inflight[IPC_WRITE_BATCH];
	unsigned ninflight;
	struct ipc_stats stats;
};

static void peer_closed(uv_handle_t *handle)
{
	struct ipc_peer *peer = handle->data;
	struct ipc_frame *f = peer->queue_head;

	while (f) {
		struct ipc_frame *next = f->next;

		free(f);
		f = next;
	}
	for (unsigned i = 0; i < peer->ninflight; i++)
		free(peer->inflight[i]);
	free(peer->rbuf);
	free(peer);
}

static void peer_shutdown(struct ipc_peer *peer, enum ipc_close_reason reason)
{
	if (peer->closing)
		return;
	peer->closing = 1;
	uv_read_stop((uv_stream_t *)&peer->pipe);
	if (reason != IPC_CLOSED_LOCAL && peer->on_close)
		peer->on_close(peer, reason, peer->arg);
	uv_close((uv_handle_t *)&peer->pipe, peer_closed);
}

void ipc_peer_close(struct ipc_peer *peer)
{
	if (peer)
		peer_shutdown(peer, IPC_CLOSED_LOCAL);
}

static void flush_queue(struct ipc_peer *peer);

static void write_done(uv_write_t *req, int status)
{
	struct ipc_peer *peer = req->data;

	for (unsigned i = 0; i < peer->ninflight; i++) {
		peer->stats.queued_bytes -= peer->inflight[i]->size;
		peer->stats.queued_frames--;
		free(peer->inflight[i]);
	}
	peer->ninflight = 0;
	if (status < 0) {
		if (status != UV_ECANCELED)
			log_warnx("ipc %s: write failed: %s", peer->name, uv_strerror(status));
		peer_shutdown(peer, IPC_CLOSED_ERROR);
		return;
	}
	flush_queue(peer);
}

static void flush_queue(struct ipc_peer *peer)
{
	uv_buf_t bufs[IPC_WRITE_BATCH];
	int rc;

	if (peer->closing || peer->ninflight || !peer->queue_head)
		return;
	while (peer->queue_head && peer->ninflight < IPC_WRITE_BATCH) {
		struct ipc_frame *f = peer->queue_head;

		peer->queue_head = f->next;
		bufs[peer->ninflight] = uv_buf_init((char *)f->u.bytes, f->size);
		peer->inflight[peer->ninflight++] = f;
	}
	if (!peer->queue_head)
		peer->queue_tail = NULL;
	peer->write_req.data = peer;
	rc = uv_write(&peer->write_req, (uv_stream_t *)&peer->pipe, bufs, peer->ninflight,
		      write_done);
	if (rc < 0) {
		log_warnx("ipc %s: write: %s", peer->name, uv_strerror(rc));
		/* The frames are freed in peer_closed. */
		peer_shutdown(peer, IPC_CLOSED_ERROR);
	}
}

static int is_control(uint32_t type)
{
	return type == IPC_PING || type == IPC_PONG || type == IPC_SHUTDOWN || type == IPC_READY;
}

int ipc_send_coalesce(struct ipc_peer *peer, uint32_t type, const char *key, const void *payload,
		      uint32_t len)
{
	struct ipc_frame *f;
	uint32_t limit;

	if (!peer || peer->closing)
		return -EPIPE;
	if (ipc_check_size(type, len) < 0)
		return -EINVAL;
	if (key && *key) {
		for (f = peer->queue_head; f; f = f->next) {
			if (f->u.hdr.type == type && strcmp(f->key, key) == 0) {
				memcpy(f->u.bytes + sizeof(struct ipc_hdr), payload, len);
				peer->stats.coalesced++;
				return 0;
			}
		}
	}
	limit = IPC_QUEUE_MAX_FRAMES + (is_control(type) ? IPC_QUEUE_RESERVE : 0);
	if (peer->stats.queued_frames >= limit ||
	    peer->stats.queued_bytes + sizeof(struct ipc_frame) + len > IPC_QUEUE_MAX_BYTES) {
		peer->stats.dropped++;
		return -ENOBUFS;
	}
	f = malloc(sizeof(*f) + len);
	if (!f) {
		peer->stats.dropped++;
		return -ENOMEM;
	}
	f->next = NULL;
	snprintf(f->key, sizeof(f->key), "%s", key ? key : "");
	f->size = (uint32_t)sizeof(struct ipc_hdr) + len;
	f->u.hdr = (struct ipc_hdr){
		.type = type, .len = len, .peer = peer->self_id, .pid = (uint32_t)getpid()};
	if (len)
		memcpy(f->u.bytes + sizeof(struct ipc_hdr), payload, len);
	if (peer->queue_tail)
		peer->queue_tail->next = f;
	else
		peer->queue_head = f;
	peer->queue_tail = f;
	peer->stats.queued_frames++;
	peer->stats.queued_bytes += f->size;
	peer->stats.sent++;
	flush_queue(peer);
	return 0;
}

int ipc_send(struct ipc_peer *peer, uint32_t type, const void *payload, uint32_t len)
{
	return ipc_send_coalesce(peer, type, NULL, payload, len);
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct ipc_peer *peer = handle->data;
	size_t want = peer->rlen + (suggested < 65536 ? 65536 : suggested);

	(void)suggested;
	if (want > peer->rcap) {
		size_t cap = sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD;
		unsigned char *p;

		if (want < cap)
			cap = want;
		if (cap <= peer->rlen) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		p = realloc(peer->rbuf, cap);
		if (!p) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		peer->rbuf = p;
		peer->rcap = cap;
	}
	*buf = uv_buf_init((char *)peer->rbuf + peer->rlen, (unsigned)(peer->rcap - peer->rlen));
}

/* Hands every complete frame in the buffer to on_msg. Returns -1 on a malformed frame. */
static int deliver_frames(struct ipc_peer *peer)
{
	size_t off = 0;

	while (!peer->closing && peer->rlen - off >= sizeof(struct ipc_hdr)) {
		struct ipc_hdr hdr;

		memcpy(&hdr, peer->rbuf + off, sizeof(hdr));
		if (ipc_check_size(hdr.type, hdr.len) < 0) {
			log_msg(LOG_LVL_CRIT,
				"ipc %s: malformed frame from peer (type %u %s, %u bytes): a bug "
				"in the peer",
				peer->name, hdr.type, ipc_type_name(hdr.type), hdr.len);
			return -1;
		}
		if (peer->identified &&
		    (hdr.peer != peer->expect_id || hdr.pid != peer->expect_pid)) {
			log_msg(LOG_LVL_CRIT,
				"ipc %s: frame %s claims sender %u pid %u, expected %u pid %u: a "
				"bug in the peer",
				peer->name, ipc_type_name(hdr.type), hdr.peer, hdr.pid,
				peer->expect_id, peer->expect_pid);
			return -1;
		}
		if (peer->rlen - off < sizeof(hdr) + hdr.len)
			break;
		peer->stats.received++;
		peer->on_msg(peer, &hdr, peer->rbuf + off + sizeof(hdr), peer->arg);
		off += sizeof(hdr) + hdr.len;
	}
	if (!peer->closing && off) {
		memmove(peer->rbuf, peer->rbuf + off, peer->rlen - off);
		peer->rlen -= off;
	}
	return 0;
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct ipc_peer *peer = stream->data;

	(void)buf;
	if (nread == UV_ENOBUFS) {
		log_errx("ipc %s: out of memory for the read buffer", peer->name);
		peer_shutdown(peer, IPC_CLOSED_ERROR);
		return;
	}
	if (nread < 0) {
		peer_shutdown(peer, nread == UV_EOF ? IPC_CLOSED_EOF : IPC_CLOSED_ERROR);
		return;
	}
	peer->rlen += (size_t)nread;
	if (deliver_frames(peer) < 0)
		peer_shutdown(peer, IPC_CLOSED_MALFORMED);
}

struct ipc_peer *ipc_peer_open(uv_loop_t *loop, int fd, const char *name, ipc_msg_cb on_msg,
			       ipc_close_cb on_close, void *arg)
{
	struct ipc_peer *peer = calloc(1, sizeof(*peer));
	int rc;

	if (!peer) {
		close(fd);
		return NULL;
	}
	snprintf(peer->name, sizeof(peer->name), "%s", name);
	peer->on_msg = on_msg;
	peer->on_close = on_close;
	peer->arg = arg;
	uv_pipe_init(loop, &peer->pipe, 0);
	peer->pipe.data = peer;
	rc = uv_pipe_open(&peer->pipe, fd);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&peer->pipe, alloc_cb, read_cb);
	if (rc < 0) {
		log_warnx("ipc %s: cannot open fd %d: %s", name, fd, uv_strerror(rc));
		peer->closing = 1;
		uv_close((uv_handle_t *)&peer->pipe, peer_closed);
		return NULL;
	}
	return peer;
}

void ipc_peer_identify(struct ipc_peer *peer, uint32_t self_id, uint32_t expect_id,
		       uint32_t expect_pid)
{
	peer->identified = 1;
	peer->self_id = self_id;
	peer->expect_id = expect_id;
	peer->expect_pid = expect_pid;
}

void ipc_peer_stats(const struct ipc_peer *peer, struct ipc_stats *out)
{
	*out = peer->stats;
}

const char *ipc_peer_name(const struct ipc_peer *peer)
{
	return peer->name;
}

/* IPC framing over a real socketpair on a libuv loop: order, partial reads, malformed frames,
 * coalescing of ticks, the queue bound and its reserve for control messages, EOF. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc/ipc.h"

struct received {
	int count;
	uint32_t types[4096];
	struct ipc_tick last_tick[2];
	int closed;
	enum ipc_close_reason reason;
	uv_loop_t *loop;
	int stop_after;
};

static void on_msg(struct ipc_peer *peer, const struct ipc_hdr *hdr, const void *payload, void *arg)
{
	struct received *r = arg;

	(void)peer;
	if (r->count < 4096)
		r->types[r->count] = hdr->type;
	r->count++;
	if (hdr->type == IPC_TICK) {
		struct ipc_tick t;

		memcpy(&t, payload, sizeof(t));
		r->last_tick[strcmp(t.market, "KRW-BTC") == 0 ? 0 : 1] = t;
	}
	if (r->stop_after && r->count >= r->stop_after)
		uv_stop(r->loop);
}

static void on_close(struct ipc_peer *peer, enum ipc_close_reason reason, void *arg)
{
	struct received *r = arg;

	(void)peer;
	r->closed = 1;
	r->reason = reason;
	uv_stop(r->loop);
}

static void run_briefly(uv_loop_t *loop)
{
	for (int i = 0; i < 200; i++)
		uv_run(loop, UV_RUN_NOWAIT);
}

static void drain_and_close(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void test_type_table(void **state)
{
	(void)state;
	assert_string_equal(ipc_type_name(IPC_TICK), "TICK");
	assert_string_equal(ipc_type_name(0), "UNKNOWN");
	assert_string_equal(ipc_type_name(IPC_TYPE_END), "UNKNOWN");
	assert_int_equal(ipc_check_size(IPC_TICK, sizeof(struct ipc_tick)), 0);
	assert_int_equal(ipc_check_size(IPC_TICK, sizeof(struct ipc_tick) - 1), -1);
	assert_int_equal(ipc_check_size(IPC_SHUTDOWN, 0), 0);
	assert_int_equal(ipc_check_size(IPC_CONFIG, IPC_MAX_PAYLOAD + 1), -1);
}

static void test_frames_arrive_in_order_byte_by_byte(void **state)
{
	uv_loop_t loop;
	int sv[2];
	struct received r = {.loop = &loop};
	struct ipc_peer *peer;
	unsigned char frame[sizeof(struct ipc_hdr) + sizeof(uint64_t)];
	struct ipc_hdr hdr = {.type = IPC_PING, .len = sizeof(uint64_t)};
	uint64_t seq = 42;

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer = ipc_peer_open(&loop, sv[0], "test", on_msg, on_close, &r);
	assert_non_null(peer);
	memcpy(frame, &hdr, sizeof(hdr));
	memcpy(frame + sizeof(hdr), &seq, sizeof(seq));
	for (int n = 0; n < 3; n++) {
		for (size_t i = 0; i < sizeof(frame); i++) {
			assert_int_equal(write(sv[1], frame + i, 1), 1);
			run_briefly(&loop);
		}
	}
	assert_int_equal(r.count, 3);
	assert_int_equal(r.types[2], IPC_PING);
	close(sv[1]);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(r.closed);
	assert_int_equal(r.reason, IPC_CLOSED_EOF);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_malformed_frame_closes_the_peer(void **state)
{
	uv_loop_t loop;
	int sv[2];
	struct received r = {.loop = &loop};
	struct ipc_hdr bad = {.type = IPC_TICK, .len = 3};

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(ipc_peer_open(&loop, sv[0], "test", on_msg, on_close, &r));
	assert_int_equal(write(sv[1], &bad, sizeof(bad)), (ssize_t)sizeof(bad));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.reason, IPC_CLOSED_MALFORMED);
	assert_int_equal(r.count, 0);
	close(sv[1]);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Identified peers stamp their id and pid, and take only frames of the sender they expect. */
static void test_identity_is_stamped_and_checked(void **state)
{
	uv_loop_t loop;
	int sv[2];
	struct received r = {.loop = &loop, .stop_after = 1};
	uint64_t seq = 7;
	struct {
		struct ipc_hdr hdr;
		uint64_t seq;
	} frame;
	struct ipc_peer *a;

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a = ipc_peer_open(&loop, sv[0], "a", on_msg, on_close, &r);
	assert_non_null(a);
	ipc_peer_identify(a, 3, 9, (uint32_t)getpid());
	assert_int_equal(ipc_send(a, IPC_PING, &seq, sizeof(seq)), 0);
	run_briefly(&loop);
	assert_int_equal(read(sv[1], &frame, sizeof(frame)), (ssize_t)sizeof(frame));
	assert_int_equal(frame.hdr.peer, 3);
	assert_int_equal(frame.hdr.pid, (uint32_t)getpid());
	/* From the expected sender: delivered. */
	frame.hdr.peer = 9;
	assert_int_equal(write(sv[1], &frame, sizeof(frame)), (ssize_t)sizeof(frame));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.count, 1);
	assert_false(r.closed);
	/* Claiming another pid (or another id) is malformed. */
	frame.hdr.pid = (uint32_t)getpid() + 1;
	assert_int_equal(write(sv[1], &frame, sizeof(frame)), (ssize_t)sizeof(frame));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.reason, IPC_CLOSED_MALFORMED);
	assert_int_equal(r.count, 1);
	close(sv[1]);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static struct ipc_tick tick(const char *market, int64_t price)
{
	struct ipc_tick t;

	memset(&t, 0, sizeof(t));
	snprintf(t.market, sizeof(t.market), "%s", market);
	t.price_e8 = price;
	return t;
}

static void test_ticks_coalesce_to_the_latest(void **state)
{
	uv_loop_t loop;
	int sv[2];
	struct received r = {.loop = &loop};
	struct ipc_peer *sender, *receiver;
	struct ipc_stats stats;

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sender = ipc_peer_open(&loop, sv[0], "sender", on_msg, on_close, &r);
	receiver = ipc_peer_open(&loop, sv[1], "receiver", on_msg, on_close, &r);
	/* The first frame goes to the kernel at once; the rest wait in the queue and coalesce. */
	for (int i = 1; i <= 1000; i++) {
		struct ipc_tick a = tick("KRW-BTC", i), b = tick("KRW-ETH", -i);

		assert_int_equal(ipc_send_coalesce(sender, IPC_TICK, a.market, &a, sizeof(a)), 0);
		assert_int_equal(ipc_send_coalesce(sender, IPC_TICK, b.market, &b, sizeof(b)), 0);
	}
	ipc_peer_stats(sender, &stats);
	assert_true(stats.queued_frames <= 3);
	assert_true(stats.coalesced >= 1997);
	run_briefly(&loop);
	assert_true(r.count <= 3);
	assert_true(r.last_tick[0].price_e8 == 1000);
	assert_true(r.last_tick[1].price_e8 == -1000);
	ipc_peer_close(sender);
	ipc_peer_close(receiver);
	drain_and_close(&loop);
}

static void test_queue_is_bounded_with_a_control_reserve(void **state)
{
	uv_loop_t loop;
	int sv[2];
	struct received r = {.loop = &loop};
	struct ipc_peer *sender;
	struct ipc_candle candle;
	struct ipc_stats stats;
	uint64_t seq = 1;
	int i, rc = 0;

	(void)state;
	memset(&candle, 0, sizeof(candle));
	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sender = ipc_peer_open(&loop, sv[0], "sender", on_msg, on_close, &r);
	/* Nobody reads sv[1] and the loop does not run: the queue must stop growing. */
	for (i = 0; i < IPC_QUEUE_MAX_FRAMES + 10; i++) {
		rc = ipc_send(sender, IPC_CANDLE, &candle, sizeof(candle));
		if (rc < 0)
			break;
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_int_equal(i, IPC_QUEUE_MAX_FRAMES);
	assert_int_equal(ipc_send(sender, IPC_PING, &seq, sizeof(seq)), 0);
	assert_int_equal(ipc_send(sender, IPC_CANDLE, &candle, 5), -EINVAL);
	ipc_peer_stats(sender, &stats);
	assert_int_equal(stats.dropped, 1);
	ipc_peer_close(sender);
	assert_int_equal(ipc_send(sender, IPC_PING, &seq, sizeof(seq)), -EPIPE);
	close(sv[1]);
	drain_and_close(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_table),
		cmocka_unit_test(test_frames_arrive_in_order_byte_by_byte),
		cmocka_unit_test(test_malformed_frame_closes_the_peer),
		cmocka_unit_test(test_identity_is_stamped_and_checked),
		cmocka_unit_test(test_ticks_coalesce_to_the_latest),
		cmocka_unit_test(test_queue_is_bounded_with_a_control_reserve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

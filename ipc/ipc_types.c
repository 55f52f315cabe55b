/* The table of message types: the name logged for each and the payload sizes it may have.
 * A frame outside this table is a bug in the peer that sent it. */
#include <stddef.h>

#include "ipc/ipc.h"

struct ipc_type_info {
	const char *name;
	uint32_t min_len, max_len;
};

static const struct ipc_type_info ipc_types[IPC_TYPE_END] = {
	[IPC_READY] = {"READY", sizeof(struct ipc_ready), sizeof(struct ipc_ready)},
	[IPC_PING] = {"PING", sizeof(uint64_t), sizeof(uint64_t)},
	[IPC_PONG] = {"PONG", sizeof(uint64_t), sizeof(uint64_t)},
	[IPC_CONFIG] = {"CONFIG", 2, IPC_MAX_PAYLOAD},
	[IPC_SHUTDOWN] = {"SHUTDOWN", 0, 0},
	[IPC_STATUS_REQ] = {"STATUS_REQ", sizeof(uint64_t), sizeof(uint64_t)},
	[IPC_STATUS] = {"STATUS", sizeof(uint64_t) + 2, IPC_MAX_PAYLOAD},
	[IPC_TICK] = {"TICK", sizeof(struct ipc_tick), sizeof(struct ipc_tick)},
	[IPC_CANDLE] = {"CANDLE", sizeof(struct ipc_candle), sizeof(struct ipc_candle)},
	[IPC_MARKET_STATE] = {"MARKET_STATE", sizeof(struct ipc_market_state),
			      sizeof(struct ipc_market_state)},
	[IPC_ALERT] = {"ALERT", sizeof(int64_t), sizeof(int64_t)},
	[IPC_PEER_STATE] = {"PEER_STATE", sizeof(struct ipc_peer_state),
			    sizeof(struct ipc_peer_state)},
	[IPC_JOB_RUN] = {"JOB_RUN", sizeof(struct ipc_job_run), IPC_MAX_PAYLOAD},
	[IPC_JOB_DONE] = {"JOB_DONE", sizeof(struct ipc_job_done),
			  sizeof(struct ipc_job_done) + IPC_JOB_MSG_MAX},
	[IPC_ORDER_INTENT] = {"ORDER_INTENT", sizeof(int64_t), sizeof(int64_t)},
	[IPC_FILL] = {"FILL", sizeof(struct ipc_fill), sizeof(struct ipc_fill)},
	[IPC_METRICS_REQ] = {"METRICS_REQ", sizeof(uint64_t), sizeof(uint64_t)},
	[IPC_METRICS] = {"METRICS", sizeof(uint64_t) + 2, IPC_MAX_PAYLOAD},
};

const char *ipc_type_name(uint32_t type)
{
	if (type == 0 || type >= IPC_TYPE_END)
		return "UNKNOWN";
	return ipc_types[type].name;
}

int ipc_check_size(uint32_t type, uint32_t len)
{
	if (type == 0 || type >= IPC_TYPE_END)
		return -1;
	if (len < ipc_types[type].min_len || len > ipc_types[type].max_len)
		return -1;
	return 0;
}

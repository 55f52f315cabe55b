/* The request recorder: every request the simulator received, with its outcome, kept in a
 * fixed-capacity ring (oldest dropped) so tests can assert on rates, statuses and order ids. */
#include "sim/sim_state.h"

#include <stdlib.h>
#include <string.h>

int recorder_init(struct recorder *r, size_t cap)
{
	r->ring = calloc(cap, sizeof(*r->ring));
	if (!r->ring)
		return -1;
	r->cap = cap;
	r->next_seq = 1;
	return 0;
}

void recorder_free(struct recorder *r)
{
	free(r->ring);
	r->ring = NULL;
}

void recorder_add(struct recorder *r, const struct rec_entry *e)
{
	struct rec_entry *slot = &r->ring[(r->next_seq - 1) % r->cap];

	*slot = *e;
	slot->seq = r->next_seq++;
}

json_t *recorder_json(const struct recorder *r, uint64_t since, size_t limit, const char *group)
{
	uint64_t oldest = r->next_seq > r->cap ? r->next_seq - r->cap : 1;
	uint64_t seq = since + 1 > oldest ? since + 1 : oldest;
	json_t *arr = json_array(), *out;
	uint64_t last = since;

	for (; seq < r->next_seq && json_array_size(arr) < limit; seq++) {
		const struct rec_entry *e = &r->ring[(seq - 1) % r->cap];

		last = seq;
		if (group && strcmp(group, e->group) != 0)
			continue;
		json_array_append_new(
			arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:i,s:s?,s:s?}", "seq",
				       (json_int_t)e->seq, "method", e->method, "path", e->path,
				       "query", e->query, "group", e->group, "status", e->status,
				       "recv_ms", (json_int_t)e->recv_ms, "recv_mono_us",
				       (json_int_t)e->recv_mono_us, "clock_ms",
				       (json_int_t)e->clock_ms, "duration_ms", e->duration_ms,
				       "identifier", e->identifier[0] ? e->identifier : NULL,
				       "fault", e->fault[0] ? e->fault : NULL));
	}
	out = json_pack("{s:o,s:I,s:I,s:I,s:I}", "requests", arr, "last_seq", (json_int_t)last,
			"oldest", (json_int_t)oldest, "capacity", (json_int_t)r->cap, "dropped",
			(json_int_t)(oldest - 1));
	return out;
}

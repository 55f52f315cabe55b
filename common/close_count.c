/* Freeing a state with the last of its handles (close_count.h). */
#include "common/close_count.h"

void close_count_start(struct close_count *c, int n, void (*done)(void *arg), void *arg)
{
	*c = (struct close_count){.open = n, .done = done, .arg = arg};
}

void close_count_part(void *arg)
{
	struct close_count *c = arg;

	if (--c->open == 0)
		c->done(c->arg);
}

static void handle_closed(uv_handle_t *handle)
{
	close_count_part(handle->data);
}

void close_count_handle(struct close_count *c, uv_handle_t *handle)
{
	handle->data = c;
	uv_close(handle, handle_closed);
}

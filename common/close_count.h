/* Freeing a state that embeds libuv handles once the last of them is closed. libuv walks a
 * closed handle after the close callbacks of others in the same pass have run, so the state
 * may go only when every handle in it (and any other part closed with it) has said so. */
#ifndef TD_CLOSE_COUNT_H
#define TD_CLOSE_COUNT_H

#include <uv.h>

struct close_count {
	int open;
	void (*done)(void *arg);
	void *arg;
};

/* Expects n parts to close, then calls done(arg) once. */
void close_count_start(struct close_count *c, int n, void (*done)(void *arg), void *arg);
/* Closes handle as one of the parts (its data is taken over: no callback of it runs again). */
void close_count_handle(struct close_count *c, uv_handle_t *handle);
/* A part closed by other means (a client's close callback, given c as its argument). */
void close_count_part(void *c);

#endif

/* Deferred passive checkpoints (db_ckpt.h). */
#include "common/db_ckpt.h"

#include <stdlib.h>

#include "common/log.h"

struct db_ckpt {
	uv_timer_t timer;
	sqlite3 *db;
};

static void on_timer(uv_timer_t *t)
{
	struct db_ckpt *c = t->data;
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	/* Busy or locked: the next commit past the threshold asks again, as SQLite's would. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		log_warnx("db: checkpoint: %s", sqlite3_errmsg(c->db));
}

static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct db_ckpt *c = arg;

	(void)db;
	(void)name;
	if (pages >= DB_CKPT_PAGES && !uv_is_active((uv_handle_t *)&c->timer))
		uv_timer_start(&c->timer, on_timer, DB_CKPT_DELAY_MS, 0);
	return SQLITE_OK;
}

struct db_ckpt *db_ckpt_start(uv_loop_t *loop, sqlite3 *db)
{
	struct db_ckpt *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->db = db;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	/* Not a reason for the loop to go on by itself. */
	uv_unref((uv_handle_t *)&c->timer);
	sqlite3_wal_hook(db, on_wal, c);
	return c;
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

void db_ckpt_stop(struct db_ckpt *c)
{
	if (!c)
		return;
	sqlite3_wal_autocheckpoint(c->db, DB_CKPT_PAGES);
	uv_close((uv_handle_t *)&c->timer, on_closed);
}

/* A connection's checkpoints taken out of its commits: SQLite runs its automatic checkpoint
 * inside the commit that takes the WAL past 1000 pages, before that commit returns, so what
 * follows a commit on a latency path (ORDER_INTENT after an intent, the POST after an attempt)
 * would wait for the checkpoint's writes and fsyncs. Here the commit only notes it and a timer
 * runs the same passive checkpoint a moment later, on the same connection. */
#ifndef TD_DB_CKPT_H
#define TD_DB_CKPT_H

#include <sqlite3.h>
#include <uv.h>

/* SQLite's own threshold (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT), and how much later it runs. */
#define DB_CKPT_PAGES 1000
#define DB_CKPT_DELAY_MS 20

struct db_ckpt;

/* Replaces db's automatic checkpoint; NULL (the automatic one stays) when out of memory. */
struct db_ckpt *db_ckpt_start(uv_loop_t *loop, sqlite3 *db);
/* Before db is closed: the automatic checkpoint again, the timer closed and freed. NULL is ok. */
void db_ckpt_stop(struct db_ckpt *c);

#endif

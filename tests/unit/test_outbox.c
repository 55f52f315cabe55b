/* The outbox on a real SQLite file: an alert that meets a locked or full database is kept in
 * memory, in order and with the time it was raised, and stored by a later retry; the queue is
 * bounded and says what it drops. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/db.h"
#include "tests/unit/tmp_db.h"
#include "common/outbox.h"

struct seen {
	int64_t ids[64];
	int n;
};

static void on_stored(void *arg, int64_t id)
{
	struct seen *s = arg;

	if (s->n < 64)
		s->ids[s->n++] = id;
}

static int setup(void **state)
{
	if (tmp_db_setup(state, "ob") < 0)
		return -1;
	/* Fail fast on the lock, and no cool-down left over from an earlier wait. */
	sqlite3_busy_timeout(*state, 0);
	return 0;
}

static void test_locked_alerts_wait_in_order(void **state)
{
	sqlite3 *db = *state;
	sqlite3 *other = db_open(tmp_db_dir, 1000);
	struct outbox ob;
	struct seen seen = {0};
	sqlite3_stmt *st;
	char text[32];
	int64_t raised;

	outbox_init(&ob, db, "test", on_stored, &seen);
	assert_int_equal(outbox_post(&ob, OUTBOX_INFO, "first", "stored at once"), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(db_exec(other, "BEGIN IMMEDIATE"), 0);
	assert_int_equal(outbox_add(db, 1, "test", OUTBOX_INFO, "k", "t"), -EBUSY);
	raised = clock_now_ms();
	for (int i = 0; i < OUTBOX_PENDING_MAX; i++) {
		snprintf(text, sizeof(text), "kept %d", i);
		assert_int_equal(outbox_post(&ob, OUTBOX_WARNING, "kept", text), 0);
	}
	assert_int_equal(ob.n, OUTBOX_PENDING_MAX);
	/* Full: the next one is lost, and counted. */
	assert_int_equal(outbox_post(&ob, OUTBOX_CRITICAL, "lost", "one too many"), -1);
	assert_int_equal(ob.lost, 1);
	outbox_retry(&ob); /* still locked: nothing moves */
	assert_int_equal(ob.n, OUTBOX_PENDING_MAX);
	assert_int_equal(seen.n, 1);
	assert_int_equal(db_exec(other, "ROLLBACK"), 0);
	outbox_retry(&ob);
	assert_int_equal(ob.n, 0);
	assert_int_equal(ob.deferred, OUTBOX_PENDING_MAX);
	assert_int_equal(seen.n, 1 + OUTBOX_PENDING_MAX);
	assert_int_equal(tmp_db_count(db, "SELECT count(*) FROM notifications"),
			 1 + OUTBOX_PENDING_MAX);
	/* In the order raised, each with the time it was raised, not the time it was stored. */
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT id, created_ms, text FROM notifications "
					    "WHERE kind = 'kept' ORDER BY id",
					    -1, &st, NULL),
			 SQLITE_OK);
	for (int i = 0; i < OUTBOX_PENDING_MAX; i++) {
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		snprintf(text, sizeof(text), "kept %d", i);
		assert_int_equal(sqlite3_column_int64(st, 0), seen.ids[1 + i]);
		assert_true(sqlite3_column_int64(st, 1) - raised < 1000);
		assert_string_equal((const char *)sqlite3_column_text(st, 2), text);
	}
	sqlite3_finalize(st);
	sqlite3_close(other);
}

static void test_full_database_keeps_the_alert(void **state)
{
	sqlite3 *db = *state;
	struct outbox ob;
	struct seen seen = {0};
	char text[400];
	int kept = 0;

	outbox_init(&ob, db, "test", on_stored, &seen);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=8"), 0);
	for (int i = 0; i < 100 && !kept; i++) {
		assert_int_equal(outbox_post(&ob, OUTBOX_WARNING, "fill", text), 0);
		kept = ob.n > 0;
	}
	assert_true(kept);
	assert_int_equal(outbox_add(db, 1, "test", OUTBOX_INFO, "k", text), -ENOSPC);
	int before = tmp_db_count(db, "SELECT count(*) FROM notifications");

	assert_int_equal(db_exec(db, "PRAGMA max_page_count=1073741823"), 0);
	outbox_retry(&ob);
	assert_int_equal(ob.n, 0);
	assert_int_equal(ob.lost, 0);
	assert_int_equal(tmp_db_count(db, "SELECT count(*) FROM notifications"), before + 1);
}

struct kept_log {
	char kinds[8][48], uids[8][64];
	int n;
};

static void on_kept(void *arg, const char *source, const struct outbox_pending *p)
{
	struct kept_log *k = arg;

	assert_string_equal(source, "test");
	if (k->n < 8) {
		snprintf(k->kinds[k->n], sizeof(k->kinds[0]), "%s", p->kind);
		snprintf(k->uids[k->n], sizeof(k->uids[0]), "%s", p->uid);
		k->n++;
	}
}

static void kept_stored(void *arg, int64_t id)
{
	(void)arg;
	(void)id;
}

/* Each kept alert is handed to the hook (to travel to the notifier as text) with a uid its row
 * keeps once stored; a full disk raises one disk_full alert first, once per episode. */
static void test_kept_alerts_go_out_as_text_with_their_uid(void **state)
{
	sqlite3 *db = *state;
	struct outbox ob;
	struct kept_log k = {0};
	char text[400], sql[256];

	outbox_init(&ob, db, "test", kept_stored, &k);
	outbox_on_kept(&ob, on_kept);
	ob.arg = &k;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=8"), 0);
	for (int i = 0; i < 100 && k.n == 0; i++)
		assert_int_equal(outbox_post(&ob, OUTBOX_WARNING, "fill", text), 0);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.kinds[0], "disk_full");
	assert_string_equal(k.kinds[1], "fill");
	assert_string_not_equal(k.uids[0], k.uids[1]);
	assert_int_equal(outbox_post(&ob, OUTBOX_CRITICAL, "second", "still full"), 0);
	assert_int_equal(k.n, 3); /* behind the older ones: no second disk_full */
	assert_string_equal(k.kinds[2], "second");
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=1073741823"), 0);
	outbox_retry(&ob);
	assert_int_equal(ob.n, 0);
	for (int i = 0; i < 3; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE uid = '%s'",
			 k.uids[i]);
		assert_int_equal(tmp_db_count(db, sql), 1);
	}
	/* A new episode raises it again. */
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=8"), 0); /* clamped to the size */
	for (int i = 0; i < 100 && k.n == 3; i++)
		assert_int_equal(outbox_post(&ob, OUTBOX_WARNING, "fill", text), 0);
	assert_int_equal(k.n, 5);
	assert_string_equal(k.kinds[3], "disk_full");
	assert_int_equal(db_exec(db, "PRAGMA max_page_count=1073741823"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_locked_alerts_wait_in_order, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_full_database_keeps_the_alert, setup,
						tmp_db_teardown),
		cmocka_unit_test_setup_teardown(test_kept_alerts_go_out_as_text_with_their_uid,
						setup, tmp_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

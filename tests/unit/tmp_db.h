/* A migrated database in a fresh temporary directory for a cmocka group, and a row count: what
 * the unit tests of the modules that write tables share. One directory per test binary. */
#ifndef TD_TESTS_TMP_DB_H
#define TD_TESTS_TMP_DB_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/db.h"

static char tmp_db_dir[64];

/* *state = the open database under tmp_db_dir; 0 or -1 as cmocka's setup wants. */
static inline int tmp_db_setup(void **state, const char *tag)
{
	sqlite3 *db;

	snprintf(tmp_db_dir, sizeof(tmp_db_dir), "/tmp/td-%s-XXXXXX", tag);
	if (!mkdtemp(tmp_db_dir))
		return -1;
	db = db_open(tmp_db_dir, 1000);
	if (!db || db_migrate(db) < 0)
		return -1;
	*state = db;
	return 0;
}

static inline int tmp_db_teardown(void **state)
{
	char cmd[128];

	sqlite3_close(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_db_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The single integer a query such as "SELECT count(*) FROM t" answers; -1 on error. */
static inline int tmp_db_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

#endif

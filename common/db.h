/* The one SQLite database under data_dir: WAL, busy_timeout, forward migrations recorded in
 * PRAGMA user_version, and statements prepared once from a caller's enum-indexed table. */
#ifndef TD_DB_H
#define TD_DB_H

#include <sqlite3.h>

#define DB_FILE_NAME "tradingd.db"
#define DB_BUSY_TIMEOUT_MS 5000

/* Opens (creating it if needed) data_dir/tradingd.db. Does not migrate. NULL on failure. */
sqlite3 *db_open(const char *data_dir);
/* Brings the schema to the newest version, each step in its own transaction. 0 or -1. */
int db_migrate(sqlite3 *db);
/* The version this build's schema ends at. */
int db_schema_version(void);
/* Returns PRAGMA user_version, or -1. */
int db_user_version(sqlite3 *db);
/* Executes SQL without results; logs and returns -1 on error. */
int db_exec(sqlite3 *db, const char *sql);

/* Prepares n statements from sql[i] into stmts[i]; on failure finalizes what was prepared. */
int db_prepare_all(sqlite3 *db, const char *const sql[], sqlite3_stmt *stmts[], int n);
void db_finalize_all(sqlite3_stmt *stmts[], int n);
/* sqlite3_step then reset and clear bindings; returns the step's result code. */
int db_step_reset(sqlite3_stmt *stmt);

#endif

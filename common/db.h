/* The one SQLite database under data_dir: owner-only files, WAL, a busy wait short enough for
 * the event loop, forward migrations in PRAGMA user_version, statements prepared once. */
#ifndef TD_DB_H
#define TD_DB_H

#include <sqlite3.h>
#include <stddef.h>

#define DB_FILE_NAME "tradingd.db"
/* PRAGMA application_id of our database (and so of its backups): "TDdb". */
#define DB_APPLICATION_ID 0x54446462
#define DB_APPLICATION_ID_SQL "1413768290"
/* The supervisor migrates before any loop runs: it may wait longer for a lock than a worker. */
#define DB_SETUP_BUSY_MS 5000

/* How long a process whose loop answers heartbeats may wait for a lock: a fifth of the
 * heartbeat timeout, so that a busy database never makes a healthy worker look hung. */
int db_busy_ms(int heartbeat_timeout_ms);

/* Opens (creating it owner-only if needed) data_dir/tradingd.db; a lock is waited for at most
 * busy_ms (see db_busy_wait in db.c). Does not migrate. NULL on failure, logged. */
sqlite3 *db_open(const char *data_dir, int busy_ms);
/* db_open for a process that uses the schema but does not migrate it (every worker): refuses,
 * with a clear error, a database whose user_version is not db_schema_version(). */
sqlite3 *db_open_worker(const char *data_dir, int busy_ms);
/* Brings the schema to the newest version, each step in its own transaction. 0 or -1. */
int db_migrate(sqlite3 *db);
/* The version this build's schema ends at. */
int db_schema_version(void);
/* The SQL that moves the schema from version - 1 to version (1-based); NULL outside. For
 * tests of a migration on rows of the older schema. */
const char *db_migration_sql(int version);
/* Returns PRAGMA user_version, or -1. */
int db_user_version(sqlite3 *db);
/* Executes SQL without results; logs and returns -1 on error. */
int db_exec(sqlite3 *db, const char *sql);
/* Ends a failed transaction: copies the failure's message into msg first (a ROLLBACK would
 * overwrite it, and SQLite may already have rolled back after a full disk or an I/O error),
 * then rolls back if a transaction is still open. Returns the failure's result code. */
int db_rollback_keep_error(sqlite3 *db, char *msg, size_t len);

/* Prepares n statements from sql[i] into stmts[i]; on failure finalizes what was prepared. */
int db_prepare_all(sqlite3 *db, const char *const sql[], sqlite3_stmt *stmts[], int n);
void db_finalize_all(sqlite3_stmt *stmts[], int n);
/* sqlite3_step then reset and clear bindings; returns the step's result code. */
int db_step_reset(sqlite3_stmt *stmt);

#endif

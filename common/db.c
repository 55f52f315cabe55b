/* The one SQLite database under data_dir: WAL, busy_timeout, forward migrations recorded in
 * PRAGMA user_version, and statements prepared once from a caller's enum-indexed table. */
#include "db.h"

#include <limits.h>
#include <stdio.h>

#include "log.h"

/* Each entry moves the schema from version i to i + 1. Append only; never edit a shipped step. */
static const char *const migrations[] = {
	/* 1: candles, the notification outbox, applied config versions */
	"CREATE TABLE candles ("
	"  market TEXT NOT NULL, unit INTEGER NOT NULL, start_ms INTEGER NOT NULL,"
	"  open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,"
	"  volume REAL NOT NULL, quote_volume REAL NOT NULL, last_trade_ms INTEGER NOT NULL,"
	"  stored_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (market, unit, start_ms)) WITHOUT ROWID;"
	"CREATE TABLE notifications ("
	"  id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL, severity TEXT NOT NULL,"
	"  source TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,"
	"  delivered_ms INTEGER, attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX notifications_undelivered ON notifications(delivered_ms) "
	"  WHERE delivered_ms IS NULL;"
	"CREATE TABLE config_versions ("
	"  id INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL, path TEXT NOT NULL,"
	"  text TEXT NOT NULL);",
	/* 2: how far each market's candles are known to be complete */
	"CREATE TABLE candle_sync ("
	"  market TEXT NOT NULL, unit INTEGER NOT NULL, synced_until_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (market, unit)) WITHOUT ROWID;",
};

int db_schema_version(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

int db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_errx("sqlite: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

sqlite3 *db_open(const char *data_dir)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, DB_FILE_NAME) >= sizeof(path)) {
		log_errx("db: data_dir is too long");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		log_errx("db: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	/* FULL: a committed order, fill or candle survives power loss, not only a process kill. */
	if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
			"PRAGMA foreign_keys=ON;") < 0) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

int db_user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

int db_migrate(sqlite3 *db)
{
	int version = db_user_version(db);
	char bump[64];

	if (version < 0)
		return -1;
	if (version > db_schema_version()) {
		log_errx("db: schema version %d is newer than this build (%d): refusing to run",
			 version, db_schema_version());
		return -1;
	}
	for (; version < db_schema_version(); version++) {
		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", version + 1);
		if (db_exec(db, "BEGIN IMMEDIATE") < 0)
			return -1;
		if (db_exec(db, migrations[version]) < 0 || db_exec(db, bump) < 0) {
			db_exec(db, "ROLLBACK");
			return -1;
		}
		if (db_exec(db, "COMMIT") < 0)
			return -1;
		log_info("db: schema migrated to version %d", version + 1);
	}
	return 0;
}

int db_prepare_all(sqlite3 *db, const char *const sql[], sqlite3_stmt *stmts[], int n)
{
	for (int i = 0; i < n; i++) {
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i],
				       NULL) != SQLITE_OK) {
			log_errx("db: cannot prepare statement %d: %s", i, sqlite3_errmsg(db));
			db_finalize_all(stmts, i);
			return -1;
		}
	}
	return 0;
}

void db_finalize_all(sqlite3_stmt *stmts[], int n)
{
	for (int i = 0; i < n; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
}

int db_step_reset(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

/* The one SQLite database under data_dir: owner-only files, WAL, a busy wait short enough for
 * the event loop, forward migrations in PRAGMA user_version, statements prepared once. */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
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
	/* 3: trading. Money is INTEGER units of 1e-8 (common/dec8.h, columns *_e8), never REAL.
	 * A signal is unique per strategy, market, day and kind: a restarted strategy cannot
	 * enter twice. An intent becomes attempts, each with its own exchange identifier; a fill
	 * is keyed by the exchange's trade uuid, so it is recorded once. */
	"CREATE TABLE trading_control ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1), paused INTEGER NOT NULL,"
	"  reason TEXT NOT NULL, changed_ms INTEGER NOT NULL, changed_by TEXT NOT NULL) STRICT;"
	"INSERT INTO trading_control VALUES (1, 0, '', 0, '');"
	"CREATE TABLE signals ("
	"  id INTEGER PRIMARY KEY, strategy TEXT NOT NULL, market TEXT NOT NULL,"
	"  day TEXT NOT NULL, kind TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (strategy, market, day, kind)) STRICT;"
	"CREATE TABLE order_intents ("
	"  id INTEGER PRIMARY KEY, signal_id INTEGER REFERENCES signals(id),"
	"  market TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('bid', 'ask')),"
	"  ord_type TEXT NOT NULL CHECK (ord_type IN ('limit', 'price', 'market')),"
	"  price_e8 INTEGER, volume_e8 INTEGER, funds_e8 INTEGER,"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('pending', 'sending', 'unknown', 'open', 'done', 'refused', 'failed')),"
	"  reason TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL) STRICT;"
	"CREATE INDEX order_intents_active ON order_intents(state)"
	"  WHERE state IN ('pending', 'sending', 'unknown', 'open');"
	"CREATE TABLE order_attempts ("
	"  intent_id INTEGER NOT NULL REFERENCES order_intents(id), attempt INTEGER NOT NULL,"
	"  identifier TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL CHECK (state IN ('sending', 'placed', 'absent', 'refused')),"
	"  order_uuid TEXT UNIQUE, error TEXT NOT NULL DEFAULT '',"
	"  sent_ms INTEGER NOT NULL, resolved_ms INTEGER,"
	"  PRIMARY KEY (intent_id, attempt)) STRICT;"
	"CREATE TABLE orders ("
	"  uuid TEXT PRIMARY KEY, intent_id INTEGER NOT NULL REFERENCES order_intents(id),"
	"  identifier TEXT NOT NULL UNIQUE, market TEXT NOT NULL, side TEXT NOT NULL,"
	"  ord_type TEXT NOT NULL, price_e8 INTEGER, volume_e8 INTEGER, state TEXT NOT NULL,"
	"  executed_volume_e8 INTEGER NOT NULL DEFAULT 0, paid_fee_e8 INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, done_ms INTEGER) STRICT;"
	"CREATE INDEX orders_open ON orders(state) WHERE done_ms IS NULL;"
	"CREATE TABLE fills ("
	"  trade_uuid TEXT PRIMARY KEY, order_uuid TEXT NOT NULL REFERENCES orders(uuid),"
	"  market TEXT NOT NULL, side TEXT NOT NULL, price_e8 INTEGER NOT NULL,"
	"  volume_e8 INTEGER NOT NULL, funds_e8 INTEGER NOT NULL, fee_e8 INTEGER NOT NULL,"
	"  realized_e8 INTEGER NOT NULL DEFAULT 0, trade_ms INTEGER NOT NULL,"
	"  day TEXT NOT NULL, recorded_ms INTEGER NOT NULL) STRICT;"
	"CREATE INDEX fills_day ON fills(day);"
	"CREATE TABLE positions ("
	"  market TEXT PRIMARY KEY, volume_e8 INTEGER NOT NULL, cost_e8 INTEGER NOT NULL,"
	"  realized_e8 INTEGER NOT NULL, fees_e8 INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL) STRICT;"
	"CREATE TABLE balances ("
	"  currency TEXT PRIMARY KEY, balance_e8 INTEGER NOT NULL, locked_e8 INTEGER NOT NULL,"
	"  avg_buy_price_e8 INTEGER NOT NULL, checked_ms INTEGER NOT NULL) STRICT;"
	"CREATE TABLE strategy_state ("
	"  strategy TEXT NOT NULL, market TEXT NOT NULL, state TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL, PRIMARY KEY (strategy, market)) STRICT;",
	/* 4: issue 9 monitoring: one row per process and one 'system' row per sample round,
	 * pruned by the supervisor by count and age (monitor.keep_samples, monitor.keep_s). */
	"CREATE TABLE metric_samples ("
	"  id INTEGER PRIMARY KEY, sampled_ms INTEGER NOT NULL, name TEXT NOT NULL,"
	"  pid INTEGER NOT NULL, state TEXT NOT NULL, cpu_pct REAL NOT NULL,"
	"  rss_kb INTEGER NOT NULL, fds INTEGER NOT NULL, restarts INTEGER NOT NULL,"
	"  mem_total_kb INTEGER NOT NULL DEFAULT 0, mem_avail_kb INTEGER NOT NULL DEFAULT 0,"
	"  load1 REAL NOT NULL DEFAULT 0, disk_free_kb INTEGER NOT NULL DEFAULT 0,"
	"  disk_total_kb INTEGER NOT NULL DEFAULT 0) STRICT;"
	"CREATE INDEX metric_samples_time ON metric_samples(sampled_ms);",
	/* 5: issue 10 (maintenance): the database says it is ours (application_id, which every
	 * backup copies with page 1), the record of each backup, and config versions with
	 * who, a hash (an unchanged reload adds none) and why. */
	"PRAGMA application_id=" DB_APPLICATION_ID_SQL ";"
	"CREATE TABLE backups ("
	"  id INTEGER PRIMARY KEY, file TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL, verified INTEGER NOT NULL DEFAULT 0,"
	"  orders INTEGER, fills INTEGER, intents INTEGER, copy_file TEXT,"
	"  error TEXT NOT NULL DEFAULT '', removed_ms INTEGER) STRICT;"
	"ALTER TABLE config_versions ADD COLUMN uid INTEGER;"
	"ALTER TABLE config_versions ADD COLUMN hash TEXT;"
	"ALTER TABLE config_versions ADD COLUMN reason TEXT NOT NULL DEFAULT '';",
	/* 6: issue 9 (notifier): delivery per sink. A notification is delivered (delivered_ms)
	 * once every sink it was routed to is done with it. uid ties a row stored late (after a
	 * full disk) to the copy the notifier already delivered from memory; folded_into is the
	 * storm summary that counts a repeat instead of sending it. */
	"ALTER TABLE notifications ADD COLUMN uid TEXT;"
	"ALTER TABLE notifications ADD COLUMN folded_into INTEGER;"
	"CREATE UNIQUE INDEX notifications_uid ON notifications(uid) WHERE uid IS NOT NULL;"
	"CREATE TABLE notification_deliveries ("
	"  notification_id INTEGER NOT NULL REFERENCES notifications(id), sink TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'skipped', 'failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	"  delivered_ms INTEGER, last_error TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (sink, notification_id)) STRICT;"
	"CREATE INDEX notification_deliveries_pending ON notification_deliveries(sink,"
	"  notification_id) WHERE state = 'pending';"
	"CREATE INDEX notification_deliveries_row ON notification_deliveries(notification_id);"
	"CREATE TABLE notifier_sinks ("
	"  sink TEXT PRIMARY KEY, state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',"
	"  changed_ms INTEGER NOT NULL, update_offset INTEGER NOT NULL DEFAULT 0) STRICT;",

	/* 7: issue 8, the scheduler. job_runs is the ledger: one row per (job, due instant),
	 * unique, so a due time runs at most once across crashes; a run that cannot happen is a
	 * 'missed' row with its reason. schedule_audit keeps every change of a job (before and
	 * after, as JSON of its overrides); job_overrides holds what tradectl job set and pause
	 * changed on top of the config file. */
	"CREATE TABLE job_runs ("
	"  id INTEGER PRIMARY KEY, job TEXT NOT NULL, due_ms INTEGER NOT NULL,"
	"  trigger TEXT NOT NULL CHECK (trigger IN"
	"    ('schedule', 'catch_up', 'manual', 'fallback')),"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('queued', 'running', 'retry', 'ok', 'failed', 'missed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER,"
	"  started_ms INTEGER, ended_ms INTEGER, duration_ms INTEGER,"
	"  result TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (job, due_ms)) STRICT;"
	"CREATE INDEX job_runs_open ON job_runs(state) WHERE state IN ('queued', 'running', "
	"'retry');"
	"CREATE TABLE job_overrides ("
	"  job TEXT PRIMARY KEY, settings TEXT NOT NULL) STRICT;"
	"CREATE TABLE schedule_audit ("
	"  id INTEGER PRIMARY KEY, changed_ms INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  job TEXT NOT NULL, what TEXT NOT NULL, before TEXT NOT NULL,"
	"  after TEXT NOT NULL) STRICT;",
	/* 8: issue 7 (orders): a random id drawn once per database and part of every exchange
	 * identifier, so that a fresh database never reuses one the exchange has burned. */
	"CREATE TABLE exec_instance ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1), instance TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL) STRICT;",
	/* 9: issue 7 (strategy): candle prices in exact integer units of 1e-8 in a STRICT
	 * table. Stored REALs had at most 8 places, so rounding x * 1e8 recovers them exactly
	 * (below 2^53 units, and a whole number above it is exact as it is). Volumes become
	 * decimal text: a day's volume can exceed dec8's range. */
	"CREATE TABLE candles_e8 ("
	"  market TEXT NOT NULL, unit INTEGER NOT NULL, start_ms INTEGER NOT NULL,"
	"  open_e8 INTEGER NOT NULL, high_e8 INTEGER NOT NULL, low_e8 INTEGER NOT NULL,"
	"  close_e8 INTEGER NOT NULL, volume TEXT NOT NULL, quote_volume TEXT NOT NULL,"
	"  last_trade_ms INTEGER NOT NULL, stored_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (market, unit, start_ms)) STRICT, WITHOUT ROWID;"
	"INSERT INTO candles_e8 SELECT market, unit, start_ms,"
	"  CAST(round(open * 100000000.0) AS INTEGER), CAST(round(high * 100000000.0) AS INTEGER),"
	"  CAST(round(low * 100000000.0) AS INTEGER), CAST(round(close * 100000000.0) AS INTEGER),"
	"  rtrim(rtrim(printf('%.8f', volume), '0'), '.'),"
	"  rtrim(rtrim(printf('%.8f', quote_volume), '0'), '.'),"
	"  last_trade_ms, stored_ms FROM candles;"
	"DROP TABLE candles;"
	"ALTER TABLE candles_e8 RENAME TO candles;",
	/* 10: issue 10 (restore): the last restore (its 'restore' notifications row) after which
	 * order-execution has looked on the exchange for the orders the database lost. */
	"CREATE TABLE exec_recovery ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1), restore_note INTEGER NOT NULL,"
	"  checked_ms INTEGER NOT NULL) STRICT;",
	/* 11: issue 8 (scheduler, schedule versions): every audited change of the schedule
	 * (job set/pause/resume, a reload that changes jobs, a rollback, a start that finds the
	 * file changed) is a version: the effective settings of every job (file + overrides,
	 * defaults filled in) as JSON, and what changed against the version before it. */
	"CREATE TABLE schedule_versions ("
	"  id INTEGER PRIMARY KEY, changed_ms INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  what TEXT NOT NULL, note TEXT NOT NULL, summary TEXT NOT NULL,"
	"  changes TEXT NOT NULL, schedule TEXT NOT NULL) STRICT;",
};

int db_schema_version(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

const char *db_migration_sql(int version)
{
	return version >= 1 && version <= db_schema_version() ? migrations[version - 1] : NULL;
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

int db_busy_ms(int heartbeat_timeout_ms)
{
	int ms = heartbeat_timeout_ms / 5;

	return ms > 0 ? ms : 1;
}

/* A process has one loop per thread that uses SQLite. Once a wait for a lock has timed out,
 * the waits that follow within busy_ms give up at once: a loop turn that meets a locked
 * database in several writes stalls for one busy_ms, not for one per write, and the loop gets
 * to answer its heartbeats between two waits. */
static _Thread_local int64_t busy_wait_start, busy_quiet_until;

static int db_busy_wait(void *arg, int count)
{
	int64_t budget = (int64_t)(intptr_t)arg;
	int64_t now = clock_mono_ms();
	int64_t waited, nap;

	if (count == 0) {
		if (now < busy_quiet_until)
			return 0;
		busy_wait_start = now;
	}
	waited = now - busy_wait_start;
	if (waited >= budget) {
		busy_quiet_until = now + budget;
		return 0;
	}
	/* Short naps: a lock released between two batches of a long job is caught at once. The
	 * first ones shorter still: most locks are held for one commit, a fraction of a ms, and a
	 * whole ms of sleep would be on the path of whatever waits (an intent, an attempt). */
	if (count < 4 && budget - waited >= 2) {
		usleep(125u << count); /* 125, 250, 500, 1000 us */
		return 1;
	}
	nap = budget - waited < 2 ? budget - waited : 2;
	sqlite3_sleep((int)nap);
	return 1;
}

static int db_path(char *buf, size_t len, const char *data_dir, const char *suffix)
{
	if ((size_t)snprintf(buf, len, "%s/%s%s", data_dir, DB_FILE_NAME, suffix) >= len) {
		log_errx("db: data_dir is too long");
		return -1;
	}
	return 0;
}

/* SQLite creates a database 0644 less the umask and gives -wal and -shm the mode of the main
 * file: creating it 0600 here (and tightening one from an older build) keeps all three
 * owner-only. A file we may not chmod (owned by the user we drop to) is fixed by that user. */
static int create_owner_only(const char *data_dir, const char *path)
{
	static const char *const side[] = {"-wal", "-shm"};
	struct stat sb;
	char other[PATH_MAX];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		log_err("db: cannot open %s", path);
		return -1;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) && fchmod(fd, 0600) < 0)
		log_warn("db: %s is mode %03o and cannot be made 0600", path,
			 (unsigned)(sb.st_mode & 0777));
	close(fd);
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		if (db_path(other, sizeof(other), data_dir, side[i]) < 0)
			return -1;
		if (stat(other, &sb) == 0 && (sb.st_mode & 077) && chmod(other, 0600) < 0)
			log_warn("db: %s is mode %03o and cannot be made 0600", other,
				 (unsigned)(sb.st_mode & 0777));
	}
	return 0;
}

sqlite3 *db_open(const char *data_dir, int busy_ms)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;

	if (db_path(path, sizeof(path), data_dir, "") < 0 || create_owner_only(data_dir, path) < 0)
		return NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		log_errx("db: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_handler(db, db_busy_wait, (void *)(intptr_t)(busy_ms > 0 ? busy_ms : 1));
	/* FULL: a committed order, fill or candle survives power loss, not only a process kill. */
	if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
			"PRAGMA foreign_keys=ON;") < 0) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

sqlite3 *db_open_worker(const char *data_dir, int busy_ms)
{
	sqlite3 *db = db_open(data_dir, busy_ms);
	int version;

	if (!db)
		return NULL;
	version = db_user_version(db);
	if (version == db_schema_version())
		return db;
	if (version < 0)
		log_errx("db: cannot read the schema version of %s/%s: %s", data_dir, DB_FILE_NAME,
			 sqlite3_errmsg(db));
	else
		log_errx("db: %s/%s has schema version %d but this build needs %d (the supervisor "
			 "migrates it before it starts any worker: is another tradingd using this "
			 "data_dir?)",
			 data_dir, DB_FILE_NAME, version, db_schema_version());
	sqlite3_close(db);
	return NULL;
}

int db_rollback_keep_error(sqlite3 *db, char *msg, size_t len)
{
	int rc = sqlite3_errcode(db);

	snprintf(msg, len, "%s", sqlite3_errmsg(db));
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
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
	char bump[64], msg[256];

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
		if (db_exec(db, migrations[version]) < 0 || db_exec(db, bump) < 0 ||
		    db_exec(db, "COMMIT") < 0) {
			db_rollback_keep_error(db, msg, sizeof(msg));
			log_errx("db: migration to schema version %d failed: %s", version + 1, msg);
			return -1;
		}
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

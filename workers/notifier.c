/* The notifier worker: reads each alert the others put in the outbox and writes it to the log
 * channel. Marking rows delivered belongs to the delivery channels (Telegram, webhook), which
 * arrive with their own issue; until then every row stays in the outbox. */
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/log.h"
#include "workers/worker.h"

struct notifier {
	sqlite3 *db;
	sqlite3_stmt *read;
	uint64_t alerts;
};

static int notifier_init(struct worker *w)
{
	w->state = calloc(1, sizeof(struct notifier));
	return w->state ? 0 : -1;
}

/* The outbox is opened on the first alert, not at start: the notifier is READY (and back
 * after a crash) sooner, and an alert that finds the database broken stays in it anyway. */
static int outbox_ready(struct worker *w, struct notifier *n)
{
	if (n->read)
		return 0;
	if (!n->db)
		n->db = db_open_worker(w->cfg.s.data_dir,
				       db_busy_ms(w->cfg.s.supervisor.heartbeat_timeout_ms));
	if (!n->db || sqlite3_prepare_v2(n->db,
					 "SELECT severity, source, kind, text FROM notifications "
					 "WHERE id = ?",
					 -1, &n->read, NULL) != SQLITE_OK) {
		log_errx("cannot read the outbox: %s", n->db ? sqlite3_errmsg(n->db) : "no db");
		return -1;
	}
	return 0;
}

static void notifier_on_msg(struct worker *w, const struct ipc_hdr *hdr, const void *payload)
{
	struct notifier *n = w->state;
	int64_t id;

	if (hdr->type != IPC_ALERT) {
		log_warnx("unexpected %s", ipc_type_name(hdr->type));
		return;
	}
	memcpy(&id, payload, sizeof(id));
	if (outbox_ready(w, n) < 0)
		return;
	sqlite3_bind_int64(n->read, 1, id);
	if (sqlite3_step(n->read) == SQLITE_ROW) {
		const char *severity = (const char *)sqlite3_column_text(n->read, 0);

		n->alerts++;
		log_msg(strcmp(severity, "info") == 0 ? LOG_LVL_NOTICE : LOG_LVL_WARN,
			"alert #%lld [%s] from %s (%s): %s", (long long)id, severity,
			(const char *)sqlite3_column_text(n->read, 1),
			(const char *)sqlite3_column_text(n->read, 2),
			(const char *)sqlite3_column_text(n->read, 3));
	} else {
		log_warnx("alert #%lld is not in the outbox", (long long)id);
	}
	sqlite3_reset(n->read);
	sqlite3_clear_bindings(n->read);
}

static void notifier_status(struct worker *w, json_t *out)
{
	struct notifier *n = w->state;

	if (n)
		json_object_set_new(out, "alerts_logged", json_integer((json_int_t)n->alerts));
}

static void notifier_stop(struct worker *w)
{
	struct notifier *n = w->state;

	if (!n)
		return;
	sqlite3_finalize(n->read);
	sqlite3_close(n->db);
	free(n);
	w->state = NULL;
}

const struct worker_ops notifier_ops = {
	.init = notifier_init,
	.on_msg = notifier_on_msg,
	.status = notifier_status,
	.stop = notifier_stop,
};

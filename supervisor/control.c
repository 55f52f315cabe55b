/* The control socket: a Unix stream socket (mode 0660) that takes one JSON request line per
 * connection from a peer whose credentials pass, answers one JSON line, and closes. Connections
 * are capped per uid, with a slot kept for root and the daemon's user, so none can lock it up. */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor/control.h"

/* Room for a burst of connects between two turns of the loop; each is accepted and judged. */
#define CONTROL_BACKLOG 128
/* A flood of refused clients gets one log line per this many ms, not one per connection. */
#define CONTROL_REFUSAL_LOG_MS 1000
/* A command refused only because a worker held the database's write lock is run again this
 * often, for at most this long: well inside tradectl's 10 s wait for a reply. */
#define CONTROL_BUSY_RETRY_MS 100
#define CONTROL_BUSY_BUDGET_MS 5000

struct control_client {
	uv_pipe_t pipe;
	uv_timer_t timer; /* the deadline of the request, then a retry's or a wait's */
	uv_write_t write_req, notice_req;
	struct control *ctl;
	struct control_client *next;
	char *buf;
	size_t len;
	uid_t uid;
	int access;  /* enum peer_access */
	int counted; /* holds one of control.max_clients (refused ones never do) */
	int closing;
	int pending_closes;
	char *reply;
	struct control_wait *wait; /* a start, stop or restart waiting for its processes */
	json_t *retry;		   /* a request refused by a lock, run again on the timer */
	int64_t retry_until;	   /* monotonic ms */
	char notice[64];
};

struct control {
	struct supervisor *sup;
	uv_pipe_t server;
	uv_timer_t settle; /* judges the waits once the loop is back from a state change */
	int pending_closes;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct control_client *clients;
	int nclients; /* the counted ones */
	int64_t refusal_logged_mono;
	unsigned refusals_unlogged;
};

static void client_freed(uv_handle_t *handle)
{
	struct control_client *c = handle->data;

	if (--c->pending_closes > 0)
		return;
	free(c->buf);
	free(c->reply);
	free(c->wait);
	json_decref(c->retry);
	free(c);
}

static void client_close(struct control_client *c)
{
	struct control_client **pp;

	if (c->closing)
		return;
	c->closing = 1;
	for (pp = &c->ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->counted)
		c->ctl->nclients--;
	c->pending_closes = 2;
	uv_close((uv_handle_t *)&c->pipe, client_freed);
	uv_close((uv_handle_t *)&c->timer, client_freed);
}

static void reply_written(uv_write_t *req, int status)
{
	(void)status;
	client_close(req->data);
}

static void client_reply(struct control_client *c, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	uv_buf_t buf;

	json_decref(reply);
	free(c->wait);
	c->wait = NULL;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_timer_stop(&c->timer);
	if (!text) {
		client_close(c);
		return;
	}
	c->reply = malloc(strlen(text) + 2);
	if (!c->reply) {
		free(text);
		client_close(c);
		return;
	}
	sprintf(c->reply, "%s\n", text);
	free(text);
	buf = uv_buf_init(c->reply, (unsigned)strlen(c->reply));
	c->write_req.data = c;
	if (uv_write(&c->write_req, (uv_stream_t *)&c->pipe, &buf, 1, reply_written) < 0)
		client_close(c);
}

static json_t *error_reply(const char *message)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

static void client_idle(uv_timer_t *timer)
{
	struct control_client *c = timer->data;

	client_reply(c, error_reply("timed out waiting for the request"));
}

static void client_wait_over(uv_timer_t *timer)
{
	struct control_client *c = timer->data;

	client_reply(c, control_wait_reply(c->wait, 1));
}

static void notice_written(uv_write_t *req, int status)
{
	/* The client is gone: its wait need not hold a slot any longer. */
	if (status < 0)
		client_close(req->data);
}

/* The reply waits for the processes; a notice tells the client how long that may take, so
 * that it can wait as long without waiting as long for a daemon that does not answer. */
static void client_wait(struct control_client *c, struct control_wait *w)
{
	uv_buf_t buf;

	c->wait = w;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_timer_stop(&c->timer);
	uv_timer_start(&c->timer, client_wait_over, (uint64_t)w->wait_ms, 0);
	snprintf(c->notice, sizeof(c->notice), "{\"pending\":true,\"wait_ms\":%lld}\n",
		 (long long)w->wait_ms);
	buf = uv_buf_init(c->notice, (unsigned)strlen(c->notice));
	c->notice_req.data = c;
	if (uv_write(&c->notice_req, (uv_stream_t *)&c->pipe, &buf, 1, notice_written) < 0)
		client_close(c);
}

static void settle_waits(uv_timer_t *timer)
{
	struct control *ctl = timer->data;
	struct control_client *c, *next;

	for (c = ctl->clients; c; c = next) {
		next = c->next;
		if (c->wait && control_wait_settled(c->wait))
			client_reply(c, control_wait_reply(c->wait, 0));
	}
}

void control_procs_changed(struct control *ctl)
{
	int waiting = 0;

	if (!ctl)
		return;
	for (struct control_client *c = ctl->clients; c; c = c->next) {
		if (c->wait) {
			control_wait_observe(c->wait);
			waiting = 1;
		}
	}
	/* Judged after the callback: a restart passes STOPPED on its way to STARTING. */
	if (waiting)
		uv_timer_start(&ctl->settle, settle_waits, 0, 0);
}

static void client_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct control_client *c = handle->data;
	size_t max = (size_t)c->ctl->sup->cfg.s.control.max_request_bytes;

	(void)suggested;
	if (!c->buf)
		c->buf = malloc(max + 1);
	if (!c->buf || c->len >= max) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(max - c->len));
}

/* Commands that change nothing when the database refuses their write (a transaction rolled
 * back, or a file rewritten with the same text), so that running them again is safe. */
static int retry_safe(json_t *request)
{
	static const char *const safe[] = {"pause", "resume", "reload", "config", "job", "jobs"};
	const char *cmd = json_string_value(json_object_get(request, "cmd"));

	for (size_t i = 0; cmd && i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strcmp(cmd, safe[i]) == 0)
			return 1;
	return 0;
}

/* SQLite's own words for SQLITE_BUSY and SQLITE_LOCKED, in whatever error the command gives. */
static int refused_by_lock(json_t *reply)
{
	const char *err = json_string_value(json_object_get(reply, "error"));

	return json_is_false(json_object_get(reply, "ok")) && err &&
	       (strstr(err, "database is locked") || strstr(err, "database table is locked"));
}

static void retry_request(uv_timer_t *timer);

/* The supervisor never waits long on the database (its loop answers heartbeats): a command a
 * worker's write lock refuses is run again a little later, and the operator gets its result. */
static void run_request(struct control_client *c, json_t *request)
{
	struct supervisor *sup = c->ctl->sup;
	struct control_wait *wait;
	json_t *reply;

	/* Who asked, for what the request records (config versions). */
	sup->request_uid = (int)c->uid;
	/* Decided per request: a monitor_group member may read, not change. */
	sup->request_access = c->access;
	reply = control_dispatch(sup, request, &wait);
	sup->request_uid = -1;
	if (reply && refused_by_lock(reply) && retry_safe(request)) {
		int64_t now = clock_mono_ms();

		if (!c->retry) {
			c->retry = json_incref(request);
			c->retry_until = now + CONTROL_BUSY_BUDGET_MS;
		}
		if (now < c->retry_until) {
			json_decref(reply);
			uv_timer_stop(&c->timer);
			uv_timer_start(&c->timer, retry_request, CONTROL_BUSY_RETRY_MS, 0);
			return;
		}
		json_object_set_new(reply, "error",
				    json_sprintf("%s (tried for %d ms; try again)",
						 json_string_value(json_object_get(reply, "error")),
						 CONTROL_BUSY_BUDGET_MS));
	}
	if (reply)
		client_reply(c, reply);
	else
		client_wait(c, wait);
}

static void retry_request(uv_timer_t *timer)
{
	struct control_client *c = timer->data;

	run_request(c, c->retry);
}

static void client_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct control_client *c = stream->data;
	json_error_t jerr;
	json_t *request;
	char *newline;

	(void)buf;
	if (nread == UV_ENOBUFS) {
		client_reply(c, error_reply("request too large"));
		return;
	}
	if (nread < 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)nread;
	c->buf[c->len] = '\0';
	newline = memchr(c->buf, '\n', c->len);
	if (!newline)
		return;
	*newline = '\0';
	request = json_loads(c->buf, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(request)) {
		json_decref(request);
		client_reply(c, error_reply("malformed request: expected one JSON object"));
		return;
	}
	uv_read_stop((uv_stream_t *)&c->pipe);
	run_request(c, request);
	json_decref(request);
}

static void log_refusal(struct control *ctl, const struct ucred *cred, const char *why)
{
	int64_t now = clock_mono_ms();

	if (ctl->refusal_logged_mono && now - ctl->refusal_logged_mono < CONTROL_REFUSAL_LOG_MS) {
		ctl->refusals_unlogged++;
		return;
	}
	if (ctl->refusals_unlogged)
		log_warnx("control: refused a client (uid %d, pid %d): %s (and %u more since the "
			  "last such message)",
			  (int)cred->uid, (int)cred->pid, why, ctl->refusals_unlogged);
	else
		log_warnx("control: refused a client (uid %d, pid %d): %s", (int)cred->uid,
			  (int)cred->pid, why);
	ctl->refusal_logged_mono = now ? now : 1;
	ctl->refusals_unlogged = 0;
}

/* Why a client whose credentials pass is still refused, or NULL. Each uid but root gets at
 * most max_clients_per_uid; those other than root and the daemon's own leave one slot free. */
static const char *over_limit(const struct control *ctl, uid_t uid, char *buf, size_t len)
{
	int64_t max = ctl->sup->cfg.s.control.max_clients;
	int64_t per_uid = ctl->sup->cfg.s.control.max_clients_per_uid;
	int privileged = uid == 0 || uid == geteuid();
	int same = 0;

	for (const struct control_client *c = ctl->clients; c; c = c->next)
		same += c->counted && c->uid == uid;
	if (uid != 0 && same >= per_uid) {
		snprintf(buf, len,
			 "too many control connections from uid %u (control.max_clients_per_uid "
			 "is %lld); try again",
			 (unsigned)uid, (long long)per_uid);
		return buf;
	}
	if (ctl->nclients >= (privileged ? max : max - 1))
		return "too many control clients; try again";
	return NULL;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct control_client *c;
	struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t len = sizeof(cred);
	const char *why;
	char buf[160];
	uv_os_fd_t fd;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->ctl = ctl;
	uv_pipe_init(server->loop, &c->pipe, 0);
	uv_timer_init(server->loop, &c->timer);
	c->pipe.data = c->timer.data = c;
	c->next = ctl->clients;
	ctl->clients = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		client_close(c);
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (c->access = privdrop_peer_access(ctl->sup, fd, cred.uid, cred.gid)) == PEER_NONE) {
		log_refusal(ctl, &cred, "permission denied");
		client_reply(c, error_reply("permission denied"));
		return;
	}
	c->uid = cred.uid;
	why = over_limit(ctl, cred.uid, buf, sizeof(buf));
	if (why) {
		log_refusal(ctl, &cred, why);
		client_reply(c, error_reply(why));
		return;
	}
	c->counted = 1;
	ctl->nclients++;
	uv_timer_start(&c->timer, client_idle, (uint64_t)ctl->sup->cfg.s.control.idle_timeout_ms,
		       0);
	uv_read_start((uv_stream_t *)&c->pipe, client_alloc, client_read);
}

static void control_freed(uv_handle_t *handle)
{
	struct control *ctl = handle->data;

	if (--ctl->pending_closes == 0)
		free(ctl);
}

static void control_free(struct control *ctl)
{
	ctl->pending_closes = 2;
	uv_close((uv_handle_t *)&ctl->server, control_freed);
	uv_close((uv_handle_t *)&ctl->settle, control_freed);
}

/* Another tradingd answering on the path means we must not take it over. */
static int socket_in_use(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int in_use;

	if (fd < 0)
		return 0;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	in_use = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return in_use;
}

struct control *control_open(struct supervisor *sup, uid_t owner, gid_t owner_gid, char *err,
			     size_t errlen)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	const char *configured = sup->cfg.s.control.socket;
	const char *group = sup->cfg.s.control_group;
	int rc;

	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->sup = sup;
	uv_pipe_init(sup->loop, &ctl->server, 0);
	uv_timer_init(sup->loop, &ctl->settle);
	ctl->server.data = ctl->settle.data = ctl;
	if (configured[0])
		rc = snprintf(ctl->path, sizeof(ctl->path), "%s", configured);
	else
		rc = snprintf(ctl->path, sizeof(ctl->path), "%s/tradingd.sock", sup->cfg.s.run_dir);
	if (rc < 0 || (size_t)rc >= sizeof(ctl->path)) {
		snprintf(err, errlen, "control socket path is longer than %zu bytes",
			 sizeof(ctl->path) - 1);
		control_free(ctl);
		return NULL;
	}
	if (socket_in_use(ctl->path)) {
		snprintf(err, errlen, "%s is in use: is another tradingd running?", ctl->path);
		control_free(ctl);
		return NULL;
	}
	unlink(ctl->path);
	rc = uv_pipe_bind(&ctl->server, ctl->path);
	/* monitor_group's members are no group of the socket's: it is open, and each peer is
	 * judged by its credentials. */
	if (rc == 0 && chmod(ctl->path, sup->cfg.s.monitor_group[0] ? 0666 : 0660) < 0)
		rc = -errno;
	/* Bound while still root: without the chown the daemon's own user could not connect. */
	if (rc == 0 && (group[0] || owner != (uid_t)-1)) {
		struct group *gr = group[0] ? getgrnam(group) : NULL;

		if (group[0] && !gr)
			rc = -ENOENT;
		/* Without control_group the socket's group is the daemon's, like run_dir's. */
		else if (chown(ctl->path, owner, gr ? gr->gr_gid : owner_gid) < 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&ctl->server, CONTROL_BACKLOG, on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "control socket %s: %s%s", ctl->path, uv_strerror(rc),
			 rc == -ENOENT && group[0] ? " (does control_group exist?)" : "");
		/* ctl holds the handles: it is freed once libuv lets go of them. */
		control_free(ctl);
		return NULL;
	}
	return ctl;
}

void control_close(struct control *ctl)
{
	if (!ctl)
		return;
	/* Every process has stopped: a waiting start, stop or restart gets its answer now. The
	 * reply is small enough to be written at once, before the close. */
	while (ctl->clients) {
		struct control_client *c = ctl->clients;

		if (c->wait)
			client_reply(c, control_wait_reply(c->wait, 0));
		client_close(c);
	}
	unlink(ctl->path);
	control_free(ctl);
}

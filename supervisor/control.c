/* The control socket: a Unix stream socket (mode 0660) that takes one JSON request line per
 * connection from a peer whose credentials pass, answers one JSON line, and closes. */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

struct control_client {
	uv_pipe_t pipe;
	uv_timer_t idle;
	uv_write_t write_req;
	struct control *ctl;
	struct control_client *next;
	char *buf;
	size_t len;
	int closing;
	int pending_closes;
	char *reply;
};

struct control {
	struct supervisor *sup;
	uv_pipe_t server;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct control_client *clients;
	int nclients;
};

static void client_freed(uv_handle_t *handle)
{
	struct control_client *c = handle->data;

	if (--c->pending_closes > 0)
		return;
	free(c->buf);
	free(c->reply);
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
	c->ctl->nclients--;
	c->pending_closes = 2;
	uv_close((uv_handle_t *)&c->pipe, client_freed);
	uv_close((uv_handle_t *)&c->idle, client_freed);
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
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_timer_stop(&c->idle);
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
	client_reply(c, control_dispatch(c->ctl->sup, request));
	json_decref(request);
}

static void client_idle(uv_timer_t *timer)
{
	struct control_client *c = timer->data;

	client_reply(c, error_reply("timed out waiting for the request"));
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct control_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->ctl = ctl;
	uv_pipe_init(server->loop, &c->pipe, 0);
	uv_timer_init(server->loop, &c->idle);
	c->pipe.data = c->idle.data = c;
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		client_close(c);
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    !privdrop_peer_allowed(ctl->sup, fd, cred.uid, cred.gid)) {
		log_warnx("control: refused a client (uid %d, pid %d)", (int)cred.uid,
			  (int)cred.pid);
		client_reply(c, error_reply("permission denied"));
		return;
	}
	if (ctl->nclients > ctl->sup->cfg.s.control.max_clients) {
		client_reply(c, error_reply("too many control clients; try again"));
		return;
	}
	uv_timer_start(&c->idle, client_idle, (uint64_t)ctl->sup->cfg.s.control.idle_timeout_ms, 0);
	uv_read_start((uv_stream_t *)&c->pipe, client_alloc, client_read);
}

static void server_closed(uv_handle_t *handle)
{
	free(handle->data);
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
	if (configured[0])
		rc = snprintf(ctl->path, sizeof(ctl->path), "%s", configured);
	else
		rc = snprintf(ctl->path, sizeof(ctl->path), "%s/tradingd.sock", sup->cfg.s.run_dir);
	if (rc < 0 || (size_t)rc >= sizeof(ctl->path)) {
		snprintf(err, errlen, "control socket path is longer than %zu bytes",
			 sizeof(ctl->path) - 1);
		free(ctl);
		return NULL;
	}
	if (socket_in_use(ctl->path)) {
		snprintf(err, errlen, "%s is in use: is another tradingd running?", ctl->path);
		free(ctl);
		return NULL;
	}
	unlink(ctl->path);
	uv_pipe_init(sup->loop, &ctl->server, 0);
	ctl->server.data = ctl;
	rc = uv_pipe_bind(&ctl->server, ctl->path);
	if (rc == 0 && chmod(ctl->path, 0660) < 0)
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
		rc = uv_listen((uv_stream_t *)&ctl->server, 16, on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "control socket %s: %s%s", ctl->path, uv_strerror(rc),
			 rc == -ENOENT && group[0] ? " (does control_group exist?)" : "");
		/* ctl holds the handle: it is freed once libuv lets go of it. */
		uv_close((uv_handle_t *)&ctl->server, server_closed);
		return NULL;
	}
	return ctl;
}

void control_close(struct control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_close(ctl->clients);
	unlink(ctl->path);
	uv_close((uv_handle_t *)&ctl->server, server_closed);
}

/* The simulator's HTTP side: libmicrohttpd (a thread per connection) fed by our own acceptor,
 * so the API port can be closed and re-opened (network down/up); faults and limits apply here. */
#include "sim/sim_state.h"

#include "common/clock.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sim_http {
	struct MHD_Daemon *d;
	pthread_t acceptor;
	int acceptor_started;
	int main_fd, admin_fd;
	int stop;
	int applied_down; /* the network state the acceptor has put into effect */
};

struct req_ctx {
	char *uri;
	char *body;
	size_t body_len;
	int too_big;
	int headers_seen; /* MHD's first call carries only the headers */
	int64_t recv_real_ms;
	int64_t recv_mono_ms;
	int64_t recv_mono_us; /* for latency measured against another process */
};

/* ---- replies ---- */

void reply_json(struct sim_reply *rp, int status, json_t *j)
{
	free(rp->body);
	rp->status = status;
	rp->body = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	if (!rp->body)
		rp->body = strdup("{}");
	rp->len = rp->body ? strlen(rp->body) : 0;
	rp->content_type = "application/json; charset=utf-8";
	json_decref(j);
}

void reply_text(struct sim_reply *rp, int status, const char *text)
{
	free(rp->body);
	rp->status = status;
	rp->body = strdup(text);
	rp->len = rp->body ? strlen(rp->body) : 0;
	rp->content_type = "text/plain; charset=utf-8";
}

void reply_error(struct sim_reply *rp, int status, const char *name, const char *message)
{
	reply_json(rp, status,
		   json_pack("{s:{s:s,s:s}}", "error", "name", name, "message", message));
}

/* Quotation errors carry the HTTP status as an integer name, as Upbit's do. */
void reply_error_code(struct sim_reply *rp, int status, const char *message)
{
	reply_json(rp, status,
		   json_pack("{s:{s:i,s:s}}", "error", "name", status, "message", message));
}

static void reply_ban(struct sim_reply *rp, int64_t ms)
{
	char msg[160];
	int secs = (int)((ms + 999) / 1000);

	snprintf(msg, sizeof(msg), "Too many API requests. Blocked for %d seconds.", secs);
	reply_json(rp, 418,
		   json_pack("{s:{s:s,s:s,s:I}}", "error", "name", "too_many_requests", "message",
			     msg, "block_ms", (json_int_t)ms));
	rp->retry_after_s = secs;
}

static void reply_status(struct sim_reply *rp, int status)
{
	if (status == 429) {
		reply_text(rp, 429, "Too many API requests.");
		return;
	}
	reply_error(rp, status, status == 503 ? "service_unavailable" : "server_error",
		    "simulated failure");
}

/* ---- listening sockets ---- */

static int make_listener(const char *host, int port, int *bound_port)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 256) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			*bound_port = ntohs(ss.ss_family == AF_INET6
						    ? ((struct sockaddr_in6 *)&ss)->sin6_port
						    : ((struct sockaddr_in *)&ss)->sin_port);
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void accept_one(struct sim *s, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	int flags;

	if (fd < 0)
		return;
	/* MHD's per-connection threads use blocking I/O on the socket. */
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	if (MHD_add_connection(s->http->d, fd, (struct sockaddr *)&ss, sl) != MHD_YES)
		log_warn("MHD_add_connection");
}

/* The acceptor owns the listening sockets: only it closes and re-opens the API port. */
static void *acceptor_main(void *arg)
{
	struct sim *s = arg;
	struct sim_http *h = s->http;

	for (;;) {
		struct pollfd pf[2];
		int n = 0, down, i;

		pthread_mutex_lock(&s->lock);
		if (s->network_down && s->network_up_at && clock_real_ms() >= s->network_up_at) {
			s->network_down = 0;
			s->network_up_at = 0;
			log_notice("network up (timed outage over)");
		}
		down = s->network_down;
		if (h->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		if (down && h->main_fd >= 0) {
			close(h->main_fd);
			h->main_fd = -1;
		} else if (!down && h->main_fd < 0) {
			int port;

			h->main_fd = make_listener(s->cfg.listen_host, s->main_port, &port);
			if (h->main_fd < 0)
				log_warn("cannot re-open %s:%d", s->cfg.listen_host, s->main_port);
		}
		if (h->applied_down != (h->main_fd < 0)) {
			h->applied_down = h->main_fd < 0;
			pthread_cond_broadcast(&s->wake);
		}
		pthread_mutex_unlock(&s->lock);
		if (h->main_fd >= 0) {
			pf[n].fd = h->main_fd;
			pf[n++].events = POLLIN;
		}
		if (h->admin_fd >= 0) {
			pf[n].fd = h->admin_fd;
			pf[n++].events = POLLIN;
		}
		if (poll(pf, (nfds_t)n, 10) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (pf[i].revents & POLLIN)
				accept_one(s, pf[i].fd);
	}
	return NULL;
}

int http_network_set(struct sim *s, int down, int64_t for_ms)
{
	struct timespec ts;

	/* Called with s->lock held; waits until the acceptor has closed or re-opened the port. */
	s->network_down = down;
	s->network_up_at = down && for_ms > 0 ? clock_real_ms() + for_ms : 0;
	log_notice("network %s%s", down ? "down" : "up", down && for_ms > 0 ? " (timed)" : "");
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	while (s->http && s->http->applied_down != down && !s->shutting_down)
		if (pthread_cond_timedwait(&s->wake, &s->lock, &ts) != 0)
			return -1;
	return 0;
}

/* ---- request plumbing ---- */

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req_ctx *ctx = calloc(1, sizeof(*ctx));

	(void)cls;
	(void)c;
	if (!ctx)
		return NULL;
	ctx->uri = strdup(uri ? uri : "/");
	ctx->recv_real_ms = clock_real_ms();
	ctx->recv_mono_ms = clock_mono_ms();
	ctx->recv_mono_us = clock_mono_us();
	return ctx;
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *ctx = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (ctx) {
		free(ctx->uri);
		free(ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

/* Waits (real time) for ms, or until faults are cleared (hang) or shutdown. ms 0: no limit. */
static void hold(struct sim *s, int64_t ms, int until_cleared)
{
	uint64_t gen;
	int64_t end = clock_real_ms() + ms;

	pthread_mutex_lock(&s->lock);
	gen = s->faults.generation;
	while (!s->shutting_down && !(until_cleared && s->faults.generation != gen)) {
		struct timespec ts;
		int64_t left = ms > 0 ? end - clock_real_ms() : 200;

		if (ms > 0 && left <= 0)
			break;
		if (left > 200)
			left = 200;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
}

static int local_port(struct MHD_Connection *c, int *fd_out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	*fd_out = ci ? ci->connect_fd : -1;
	if (*fd_out < 0 || getsockname(*fd_out, (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static void client_ip(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, len, "unknown");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
			  (socklen_t)len);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
			  (socklen_t)len);
}

/* Closing with SO_LINGER 0 sends a RST, which is what a dropped connection looks like. */
static enum MHD_Result drop_connection(int fd)
{
	struct linger lg = {1, 0};

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return MHD_NO;
}

static void record(struct sim *s, const struct req_ctx *ctx, const char *method, const char *path,
		   const char *query, const char *group, int status, const char *identifier,
		   const char *fault)
{
	struct rec_entry e;

	memset(&e, 0, sizeof(e));
	e.recv_ms = ctx->recv_real_ms;
	e.recv_mono_us = ctx->recv_mono_us;
	e.clock_ms = clock_now_ms();
	e.status = status;
	e.duration_ms = (int)(clock_mono_ms() - ctx->recv_mono_ms);
	snprintf(e.method, sizeof(e.method), "%s", method);
	snprintf(e.group, sizeof(e.group), "%s", group);
	snprintf(e.path, sizeof(e.path), "%s", path);
	snprintf(e.query, sizeof(e.query), "%s", query ? query : "");
	snprintf(e.identifier, sizeof(e.identifier), "%s", identifier ? identifier : "");
	snprintf(e.fault, sizeof(e.fault), "%s", fault ? fault : "");
	pthread_mutex_lock(&s->lock);
	recorder_add(&s->rec, &e);
	pthread_mutex_unlock(&s->lock);
}

/* A huge body, streamed so it costs no memory: a valid JSON array of padding objects. */
struct huge_body {
	uint64_t total;
};

static const char huge_unit[] = "{\"market\":\"KRW-BTC\",\"trade_price\":145000000.0,\"pad\":"
				"\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"},";

static ssize_t huge_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct huge_body *hb = cls;
	size_t n = 0;

	while (n < max && pos < hb->total) {
		if (pos == 0)
			buf[n] = '[';
		else if (pos == hb->total - 3)
			buf[n] = '{';
		else if (pos == hb->total - 2)
			buf[n] = '}';
		else if (pos == hb->total - 1)
			buf[n] = ']';
		else
			buf[n] = huge_unit[(pos - 1) % (sizeof(huge_unit) - 1)];
		n++;
		pos++;
	}
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct sim_reply *rp, const char *group,
				  int remaining, int huge_mb)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char hdr[96];

	if (huge_mb > 0) {
		struct huge_body *hb = malloc(sizeof(*hb));
		uint64_t units = (((uint64_t)huge_mb << 20) + sizeof(huge_unit) - 2) /
				 (sizeof(huge_unit) - 1);

		if (!hb)
			return MHD_NO;
		hb->total = 1 + units * (sizeof(huge_unit) - 1) + 3;
		resp = MHD_create_response_from_callback(hb->total, 64 * 1024, huge_reader, hb,
							 free);
	} else {
		resp = MHD_create_response_from_buffer(rp->len, rp->body, MHD_RESPMEM_MUST_FREE);
		if (resp)
			rp->body = NULL; /* MHD owns it now */
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
				rp->content_type ? rp->content_type
						 : "application/json; charset=utf-8");
	if (group) {
		snprintf(hdr, sizeof(hdr), "group=%s; min=1800; sec=%d", group,
			 remaining < 0 ? 0 : remaining);
		MHD_add_response_header(resp, "Remaining-Req", hdr);
	}
	if (rp->retry_after_s > 0) {
		if (rp->retry_after_date) {
			time_t t = (time_t)(clock_real_ms() / 1000) + rp->retry_after_s;
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(hdr, sizeof(hdr), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		} else {
			snprintf(hdr, sizeof(hdr), "%d", rp->retry_after_s);
		}
		MHD_add_response_header(resp, "Retry-After", hdr);
	}
	ret = MHD_queue_response(c, (unsigned)rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int is_exchange_group(enum rl_group g)
{
	return g == RL_DEFAULT || g == RL_ORDER || g == RL_ORDER_TEST;
}

/* The API path: faults before, rate limit, route, faults after, record, reply. */
static enum MHD_Result serve_api(struct sim *s, struct MHD_Connection *c, struct req_ctx *ctx,
				 struct sim_request *rq, int fd)
{
	struct fault_plan plan;
	struct sim_reply rp;
	enum rl_group g = rl_group_for(rq->method, rq->path);
	const char *group = rl_group_name(g);
	char key[128];
	int remaining = 0, routed;
	int64_t retry_ms;
	enum rl_verdict v;
	enum MHD_Result ret;

	memset(&rp, 0, sizeof(rp));
	pthread_mutex_lock(&s->lock);
	if (s->network_down) {
		pthread_mutex_unlock(&s->lock);
		record(s, ctx, rq->method, rq->path, rq->raw_query, group, 0, NULL, "network_down");
		return drop_connection(fd);
	}
	faults_plan(&s->faults, rq->path, (int)g, clock_real_ms(), &plan);
	pthread_mutex_unlock(&s->lock);

	if (plan.latency_ms > 0)
		hold(s, plan.latency_ms, 0);
	if (plan.hang_ms >= 0 && !plan.hang_after)
		hold(s, plan.hang_ms, 1);
	if (plan.reset == 1) {
		record(s, ctx, rq->method, rq->path, rq->raw_query, group, 0, NULL, "reset");
		return drop_connection(fd);
	}

	if (!(is_exchange_group(g) && auth_peek_key(rq->authorization, key, sizeof(key)) == 0))
		snprintf(key, sizeof(key), "%s", rq->client_ip);
	pthread_mutex_lock(&s->lock);
	if (plan.ban_ms > 0) {
		reply_ban(&rp, plan.ban_ms);
	} else if (plan.status && !plan.status_after) {
		reply_status(&rp, plan.status);
		remaining = rl_peek(&s->rl, key, g, clock_mono_ms());
	} else if ((v = rl_check(&s->rl, key, g, clock_mono_ms(), &remaining, &retry_ms)) ==
		   RL_418) {
		reply_ban(&rp, retry_ms);
		snprintf(plan.name, sizeof(plan.name), "ratelimit_418");
	} else if (v == RL_429) {
		reply_text(&rp, 429, "Too many API requests.");
		snprintf(plan.name, sizeof(plan.name), "ratelimit_429");
	} else {
		if (ctx->too_big) {
			reply_error(&rp, 413, "request_too_large", "request body too large");
		} else if (query_parse(rq->raw_query, &rq->q) < 0) {
			reply_error_code(&rp, 400, "Invalid parameter. Check the given value!");
		} else {
			routed = routes_quotation(s, rq, &rp);
			if (routed < 0)
				routed = routes_exchange(s, rq, &rp);
			if (routed < 0)
				reply_error_code(&rp, 404, "Not found");
		}
		if (plan.status && plan.status_after)
			reply_status(&rp, plan.status);
	}
	pthread_mutex_unlock(&s->lock);
	rp.retry_after_s =
		rp.retry_after_s ? rp.retry_after_s : (plan.status ? plan.retry_after_s : 0);
	rp.retry_after_date = plan.status ? plan.retry_after_date : 0;

	if (plan.hang_ms >= 0 && plan.hang_after)
		hold(s, plan.hang_ms, 1);
	if (plan.reset == 2) {
		record(s, ctx, rq->method, rq->path, rq->raw_query, group, 0, rp.identifier,
		       "reset_after");
		free(rp.body);
		return drop_connection(fd);
	}
	if (plan.malformed && plan.malformed - 1 != MF_HUGE) {
		size_t nlen;
		char *nb = faults_malform((enum malformed_mode)(plan.malformed - 1),
					  rp.body ? rp.body : "", rp.len, &nlen);

		if (nb) {
			free(rp.body);
			rp.body = nb;
			rp.len = nlen;
		}
	}
	if (plan.malformed && plan.malformed - 1 != MF_HUGE)
		snprintf(plan.name, sizeof(plan.name), "malformed:%s",
			 malformed_name(plan.malformed - 1));
	else if (plan.malformed)
		snprintf(plan.name, sizeof(plan.name), "malformed:huge");
	record(s, ctx, rq->method, rq->path, rq->raw_query, group, rp.status, rp.identifier,
	       plan.name);
	ret = send_reply(c, &rp, group, remaining, plan.malformed - 1 == MF_HUGE ? plan.mb : 0);
	free(rp.body);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct sim *s = cls;
	struct req_ctx *ctx = *con_cls;
	struct sim_request rq;
	struct sim_reply rp;
	char *qmark, path[512];
	int fd, port;
	enum MHD_Result ret;

	(void)url;
	(void)version;
	if (!ctx)
		return MHD_NO;
	if (!ctx->headers_seen) {
		ctx->headers_seen = 1;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Bodies beyond the cap are read and discarded, then refused with 413. */
		if (!ctx->too_big && ctx->body_len + *upload_size <= SIM_MAX_BODY) {
			char *nb = realloc(ctx->body, ctx->body_len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			ctx->body = nb;
			memcpy(ctx->body + ctx->body_len, upload, *upload_size);
			ctx->body_len += *upload_size;
			ctx->body[ctx->body_len] = '\0';
		} else {
			ctx->too_big = 1;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&rq, 0, sizeof(rq));
	memset(&rp, 0, sizeof(rp));
	qmark = strchr(ctx->uri, '?');
	snprintf(path, sizeof(path), "%.*s",
		 (int)(qmark ? (size_t)(qmark - ctx->uri) : strlen(ctx->uri)), ctx->uri);
	rq.method = method;
	rq.path = path;
	rq.raw_query = qmark ? qmark + 1 : "";
	rq.body = ctx->body;
	rq.body_len = ctx->body_len;
	rq.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	client_ip(c, rq.client_ip, sizeof(rq.client_ip));
	port = local_port(c, &fd);

	if (strncmp(path, "/_sim/", 6) == 0) {
		/* Admin: no limits, no faults, not recorded. */
		pthread_mutex_lock(&s->lock);
		if (ctx->too_big)
			reply_error(&rp, 413, "request_too_large", "request body too large");
		else if (query_parse(rq.raw_query, &rq.q) < 0)
			reply_error(&rp, 400, "invalid_parameter", "bad query string");
		else if (admin_handle(s, &rq, &rp) < 0)
			reply_error(&rp, 404, "not_found", "no such admin endpoint");
		pthread_mutex_unlock(&s->lock);
		ret = send_reply(c, &rp, NULL, 0, 0);
	} else if (port >= 0 && port == s->admin_port && s->admin_port != s->main_port) {
		reply_error(&rp, 404, "not_found", "the admin port serves only /_sim/*");
		ret = send_reply(c, &rp, NULL, 0, 0);
	} else {
		ret = serve_api(s, c, ctx, &rq, fd);
	}
	free(rp.body);
	query_free(&rq.q);
	return ret;
}

int http_start(struct sim *s, char *err, size_t errlen)
{
	struct sim_http *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->main_fd = h->admin_fd = -1;
	s->http = h;
	h->main_fd = make_listener(s->cfg.listen_host, s->cfg.listen_port, &s->main_port);
	if (h->main_fd < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", s->cfg.listen_host,
			 s->cfg.listen_port, strerror(errno));
		return -1;
	}
	if (s->cfg.admin_port >= 0) {
		h->admin_fd = make_listener(s->cfg.admin_host, s->cfg.admin_port, &s->admin_port);
		if (h->admin_fd < 0) {
			snprintf(err, errlen, "cannot listen on %s:%d: %s", s->cfg.admin_host,
				 s->cfg.admin_port, strerror(errno));
			return -1;
		}
	} else {
		s->admin_port = -1;
	}
	h->d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
		0, NULL, NULL, on_request, s, MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot start libmicrohttpd");
		return -1;
	}
	if (pthread_create(&h->acceptor, NULL, acceptor_main, s) != 0) {
		snprintf(err, errlen, "cannot start the acceptor thread");
		return -1;
	}
	h->acceptor_started = 1;
	return 0;
}

void http_stop(struct sim *s)
{
	struct sim_http *h = s->http;

	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	h->stop = 1;
	s->shutting_down = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (h->acceptor_started)
		pthread_join(h->acceptor, NULL);
	if (h->main_fd >= 0)
		close(h->main_fd);
	if (h->admin_fd >= 0)
		close(h->admin_fd);
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h);
	s->http = NULL;
}

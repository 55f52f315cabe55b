/* The api worker: an HTTP server on loopback (libmicrohttpd, a thread per connection) that
 * serves /metrics. Each scrape asks the supervisor over IPC (METRICS_REQ) from the loop thread
 * and waits, in its connection thread, for the answer (METRICS) or api.timeout_ms. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/close_count.h"
#include "common/log.h"
#include "workers/api_metrics.h"
#include "workers/worker.h"

/* A scrape waiting for the supervisor's answer, owned by its connection thread: on the list
 * while it waits, freed by that thread once answered or timed out. */
struct api_wait {
	struct api_wait *next;
	int done;
	char *body; /* the page, malloc'd; NULL: no answer (503) */
};

struct api {
	struct worker *w;
	struct MHD_Daemon *httpd;
	int listen_fd;
	char listen[72];
	uv_async_t wake;
	uv_timer_t timeout;
	struct close_count closing; /* the two above, after api_stop */

	/* Shared with the connection threads: everything below, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t answered;
	struct api_wait *waiting;
	int stopping;
	int64_t timeout_ms; /* api.timeout_ms: the threads never read the config itself */
	struct api_counters counters;

	/* Loop thread only. */
	int asked;
	uint64_t seq, asked_id;
};

/* Any HTTP reply of ours: a short text. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     char *body, int owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void unlink_wait(struct api *a, struct api_wait *wt)
{
	for (struct api_wait **pp = &a->waiting; *pp; pp = &(*pp)->next) {
		if (*pp == wt) {
			*pp = wt->next;
			return;
		}
	}
}

/* On a connection thread: queue the scrape, wake the loop, wait for the page. */
static char *fetch_page(struct api *a)
{
	struct api_wait *wt = calloc(1, sizeof(*wt));
	struct timespec until;
	char *body = NULL;

	if (!wt)
		return NULL;
	pthread_mutex_lock(&a->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += a->timeout_ms / 1000;
	until.tv_nsec += (a->timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (!a->stopping) {
		wt->next = a->waiting;
		a->waiting = wt;
		uv_async_send(&a->wake);
		while (!wt->done && !a->stopping)
			if (pthread_cond_timedwait(&a->answered, &a->lock, &until) == ETIMEDOUT)
				break;
		if (!wt->done) {
			unlink_wait(a, wt);
			a->counters.supervisor_timeouts++;
		}
		body = wt->body;
	}
	pthread_mutex_unlock(&a->lock);
	free(wt);
	return body;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static int seen;
	struct api *a = cls;
	uint64_t *counter;
	enum MHD_Result ret;
	char *page = NULL;

	(void)version;
	(void)upload;
	if (*con_cls == NULL) {
		*con_cls = &seen; /* the headers are in: answer at the next call */
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0; /* a body is read and ignored: no handler takes one */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		counter = &a->counters.requests_bad_method;
		ret = reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			    "only GET and HEAD are served\n", 0);
	} else if (strcmp(url, "/metrics") != 0) {
		counter = &a->counters.requests_not_found;
		ret = reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found: try /metrics\n", 0);
	} else if ((page = fetch_page(a)) == NULL) {
		counter = &a->counters.requests_unavailable;
		ret = reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			    "no answer from the supervisor\n", 0);
	} else {
		counter = &a->counters.requests_ok;
		ret = reply(c, MHD_HTTP_OK, PROM_CONTENT_TYPE, page, 1);
	}
	pthread_mutex_lock(&a->lock);
	(*counter)++;
	pthread_mutex_unlock(&a->lock);
	return ret;
}

static void on_ask_timeout(uv_timer_t *timer)
{
	struct api *a = timer->data;

	/* A late answer is dropped; the waiting scrapes time out on their own. */
	log_warnx("no METRICS answer from the supervisor within %lld ms",
		  (long long)a->w->cfg.s.api.timeout_ms);
	a->asked = 0;
}

/* On the loop: scrapes are waiting and no question is out: ask the supervisor. */
static void on_wake(uv_async_t *handle)
{
	struct api *a = handle->data;
	int any;

	pthread_mutex_lock(&a->lock);
	any = a->waiting != NULL;
	pthread_mutex_unlock(&a->lock);
	if (!any || a->asked || a->w->stopping)
		return;
	a->asked = 1;
	a->asked_id = ++a->seq;
	if (worker_send(a->w, IPC_METRICS_REQ, &a->asked_id, sizeof(a->asked_id)) < 0) {
		a->asked = 0;
		return;
	}
	uv_timer_start(&a->timeout, on_ask_timeout, (uint64_t)a->w->cfg.s.api.timeout_ms, 0);
}

static void on_metrics(struct api *a, const struct ipc_hdr *hdr, const void *payload)
{
	struct prom_buf page = {0};
	struct api_counters counters;
	uint64_t id;
	json_t *m;

	memcpy(&id, payload, sizeof(id));
	if (!a->asked || id != a->asked_id)
		return;
	a->asked = 0;
	uv_timer_stop(&a->timeout);
	m = json_loadb((const char *)payload + sizeof(id), hdr->len - sizeof(id), 0, NULL);
	if (!m)
		fatalx("the supervisor sent METRICS that are not JSON");
	pthread_mutex_lock(&a->lock);
	counters = a->counters;
	pthread_mutex_unlock(&a->lock);
	api_metrics_text(m, &counters, &page);
	json_decref(m);
	pthread_mutex_lock(&a->lock);
	for (struct api_wait *wt = a->waiting; wt; wt = wt->next) {
		wt->body = page.failed || !page.text ? NULL : strdup(page.text);
		wt->done = 1;
	}
	a->waiting = NULL;
	pthread_cond_broadcast(&a->answered);
	pthread_mutex_unlock(&a->lock);
	prom_buf_free(&page);
}

static void api_on_msg(struct worker *w, const struct ipc_hdr *hdr, const void *payload)
{
	if (hdr->type == IPC_METRICS)
		on_metrics(w->state, hdr, payload);
	else
		log_warnx("unexpected %s from the supervisor", ipc_type_name(hdr->type));
}

/* api.listen ("127.0.0.1:18090", "[::1]:18090") as a bound, listening socket; -1 (logged). */
static int open_listener(const char *listen_at)
{
	struct sockaddr_storage ss = {0};
	char host[64];
	const char *colon = strrchr(listen_at, ':');
	socklen_t sl;
	int fd, one = 1, port;
	size_t hl;

	if (!colon || (port = atoi(colon + 1)) <= 0 || port > 65535)
		goto bad;
	hl = (size_t)(colon - listen_at);
	if (listen_at[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (hl < 3 || listen_at[hl - 1] != ']' || hl - 2 >= sizeof(host))
			goto bad;
		memcpy(host, listen_at + 1, hl - 2);
		host[hl - 2] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, listen_at, hl);
		host[hl] = '\0';
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("api: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		log_err("api: cannot listen on %s (api.listen)", listen_at);
		close(fd);
		return -1;
	}
	return fd;
bad:
	log_errx("api: api.listen \"%s\" is not IPV4:PORT or [IPV6]:PORT", listen_at);
	return -1;
}

static int api_init(struct worker *w)
{
	struct api *a = calloc(1, sizeof(*a));

	if (!a)
		return -1;
	a->w = w;
	a->listen_fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->answered, NULL);
	uv_async_init(w->loop, &a->wake, on_wake);
	uv_timer_init(w->loop, &a->timeout);
	a->wake.data = a->timeout.data = a;
	w->state = a;
	a->timeout_ms = w->cfg.s.api.timeout_ms;
	snprintf(a->listen, sizeof(a->listen), "%s", w->cfg.s.api.listen);
	a->listen_fd = open_listener(a->listen);
	if (a->listen_fd < 0)
		return -1;
	a->httpd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0,
		NULL, NULL, on_request, a, MHD_OPTION_LISTEN_SOCKET, a->listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)w->cfg.s.api.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((w->cfg.s.api.timeout_ms + 999) / 1000),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
	if (!a->httpd) {
		log_errx("api: cannot start the HTTP server on %s", a->listen);
		return -1;
	}
	log_notice("serving /metrics on http://%s/metrics", a->listen);
	return 0;
}

static void api_on_config(struct worker *w)
{
	struct api *a = w->state;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->timeout_ms = w->cfg.s.api.timeout_ms;
	pthread_mutex_unlock(&a->lock);
	if (strcmp(a->listen, w->cfg.s.api.listen) != 0)
		log_warnx("api.listen changed to %s: it takes effect when the api worker restarts "
			  "(tradectl restart api)",
			  w->cfg.s.api.listen);
}

static void api_status(struct worker *w, json_t *out)
{
	struct api *a = w->state;
	struct api_counters c;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	c = a->counters;
	pthread_mutex_unlock(&a->lock);
	json_object_set_new(out, "listen", json_string(a->listen));
	json_object_set_new(out, "requests",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "ok", (json_int_t)c.requests_ok,
				      "not_found", (json_int_t)c.requests_not_found, "bad_method",
				      (json_int_t)c.requests_bad_method, "unavailable",
				      (json_int_t)c.requests_unavailable, "supervisor_timeouts",
				      (json_int_t)c.supervisor_timeouts));
}

static void state_closed(void *arg)
{
	struct api *a = arg;

	pthread_cond_destroy(&a->answered);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static void api_stop(struct worker *w)
{
	struct api *a = w->state;

	if (!a)
		return;
	/* Wake every waiting scrape (503), then join the connection threads. */
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_cond_broadcast(&a->answered);
	pthread_mutex_unlock(&a->lock);
	/* MHD closes the listening socket it was given. */
	if (a->httpd)
		MHD_stop_daemon(a->httpd);
	else if (a->listen_fd >= 0)
		close(a->listen_fd);
	w->state = NULL;
	/* Freed with the last of its two handles. */
	close_count_start(&a->closing, 2, state_closed, a);
	close_count_handle(&a->closing, (uv_handle_t *)&a->timeout);
	close_count_handle(&a->closing, (uv_handle_t *)&a->wake);
}

const struct worker_ops api_ops = {
	.init = api_init,
	.on_msg = api_on_msg,
	.on_config = api_on_config,
	.status = api_status,
	.stop = api_stop,
};

/* The floor under tick-to-order latency: one fdatasync of a 4 KB page on the data disk, then a
 * loopback HTTP POST to the simulator on a kept-alive libcurl handle, as order-execution posts.
 * usage: post_floor URL FILE N; prints "start_mono_us" per POST (the simulator records receipt). */
#include <curl/curl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

int main(int argc, char **argv)
{
	static const char body[] =
		"{\"market\":\"KRW-BTC\",\"side\":\"bid\",\"ord_type\":\"price\","
		"\"price\":\"5000\",\"identifier\":\"floor\"}";
	static char page[4096];
	struct curl_slist *h = NULL;
	CURL *c;
	int fd, n;

	if (argc != 4 || (n = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: post_floor URL FILE N\n");
		return 2;
	}
	fd = open(argv[2], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(c = curl_easy_init())) {
		perror("post_floor");
		return 1;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	for (int i = 0; i < n; i++) {
		int64_t t0;

		usleep(20000); /* idle between samples, as between crossings */
		t0 = mono_us();
		/* A page overwritten in place, as SQLite rewrites its WAL after a checkpoint. */
		if (pwrite(fd, page, sizeof(page), 0) < 0 || fdatasync(fd) < 0) {
			perror("post_floor: write");
			return 1;
		}
		if (curl_easy_perform(c) != CURLE_OK) {
			fprintf(stderr, "post_floor: POST failed\n");
			return 1;
		}
		printf("%" PRId64 "\n", t0);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	close(fd);
	return 0;
}

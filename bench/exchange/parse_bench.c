/* What strict validation of a ticker reply costs: upbit_parse_tickers over a captured body,
 * against jansson's json_loadb alone on the same bytes (the floor any JSON consumer pays). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "workers/upbit/upbit_parse.h"

#define ROUNDS 7

enum kind { KIND_LOAD, KIND_PARSE, KIND_COUNT };

static const char *const kind_names[KIND_COUNT] = {"json_loadb", "upbit_parse_tickers"};

struct input {
	char *body;
	size_t len;
	struct upbit_parse_opts opts;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int read_file(const char *path, struct input *in)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -1;
	}
	in->body = malloc((size_t)size);
	in->len = (size_t)size;
	if (!in->body || fread(in->body, 1, in->len, f) != in->len) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* One reply through one kind; the result is freed as a caller would. 0 on success. */
static int one(enum kind k, const struct input *in, size_t *items)
{
	if (k == KIND_LOAD) {
		json_t *root = json_loadb(in->body, in->len, JSON_REJECT_DUPLICATES, NULL);

		if (!root)
			return -1;
		*items = json_array_size(root);
		json_decref(root);
		return 0;
	}
	struct upbit_ticker *v = NULL;
	struct upbit_parse_error err;
	int rc = upbit_parse_tickers(in->body, in->len, &in->opts, &v, items, &err);

	if (rc != 0) {
		fprintf(stderr, "parse_bench: %s at [%ld].%s: %s\n", upbit_parse_err_name(rc),
			err.index, err.field, err.detail);
		return -1;
	}
	free(v);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Iterations that take about target_ns, from a short trial. */
static long calibrate(enum kind k, const struct input *in, uint64_t target_ns)
{
	size_t items;
	long n = 1;

	for (;;) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < n; i++)
			if (one(k, in, &items) < 0)
				return -1;
		uint64_t dt = now_ns() - t0;
		if (dt >= target_ns / 8 || n > (1L << 24))
			return (long)((double)n * (double)target_ns / (double)(dt ? dt : 1)) + 1;
		n *= 2;
	}
}

/* Rounds alternate between the kinds so that a noisy neighbour hits both alike; the median
 * round of each is reported. */
static int timed(const struct input *in, double round_s)
{
	double ns[KIND_COUNT][ROUNDS];
	long iters[KIND_COUNT];
	size_t items[KIND_COUNT] = {0};

	for (int k = 0; k < KIND_COUNT; k++) {
		iters[k] = calibrate((enum kind)k, in, (uint64_t)(round_s * 1e9));
		if (iters[k] < 0)
			return -1;
	}
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < KIND_COUNT; k++) {
			uint64_t t0 = now_ns();

			for (long i = 0; i < iters[k]; i++)
				if (one((enum kind)k, in, &items[k]) < 0)
					return -1;
			ns[k][r] = (double)(now_ns() - t0) / (double)iters[k];
		}
	for (int k = 0; k < KIND_COUNT; k++) {
		double med, best;

		qsort(ns[k], ROUNDS, sizeof(double), cmp_double);
		med = ns[k][ROUNDS / 2];
		best = ns[k][0];
		printf("kind=%s bytes=%zu markets=%zu iterations=%ld rounds=%d ns_per_reply=%.0f "
		       "best_ns_per_reply=%.0f ns_per_market=%.0f mb_per_s=%.1f "
		       "replies_per_s=%.0f\n",
		       kind_names[k], in->len, items[k], iters[k], ROUNDS, med, best,
		       items[k] ? med / (double)items[k] : 0, (double)in->len / med * 1e3,
		       1e9 / med);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: parse_bench FILE [--round-seconds S]\n"
			"       parse_bench FILE --only json_loadb|upbit_parse_tickers N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct input in = {0};
	double round_s = 0.2;
	int rc = 0;

	if (argc < 2)
		usage();
	if (read_file(argv[1], &in) < 0) {
		fprintf(stderr, "parse_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	in.opts.now_ms = clock_now_ms();
	if (argc == 4 && strcmp(argv[2], "--round-seconds") == 0) {
		round_s = atof(argv[3]);
		if (round_s <= 0)
			usage();
	} else if (argc == 5 && strcmp(argv[2], "--only") == 0) {
		/* A fixed count for callgrind: instruction counts, not time. */
		long n = atol(argv[4]);
		int k = strcmp(argv[3], kind_names[KIND_LOAD]) == 0    ? KIND_LOAD
			: strcmp(argv[3], kind_names[KIND_PARSE]) == 0 ? KIND_PARSE
								       : -1;
		size_t items = 0;

		if (k < 0 || n < 0)
			usage();
		for (long i = 0; i < n && rc == 0; i++)
			rc = one((enum kind)k, &in, &items);
		printf("kind=%s iterations=%ld items=%zu\n", argv[3], n, items);
		free(in.body);
		return rc == 0 ? 0 : 1;
	} else if (argc != 2) {
		usage();
	}
	rc = timed(&in, round_s);
	free(in.body);
	return rc == 0 ? 0 : 1;
}

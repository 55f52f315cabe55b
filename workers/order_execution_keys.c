/* The exchange keys of order-execution: read from the descriptor the supervisor opened as root
 * (live), or from the simulator's account (sim), into locked memory that is zeroed when freed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "workers/order_execution.h"

#define KEYS_MAP 4096
#define KEYS_FD_ENV WORKER_KEYS_FD_ENV

/* Locked: never swapped out; not dumped; read, then parsed in place. */
static char *locked_page(void)
{
	char *p = mmap(NULL, KEYS_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mlock(p, KEYS_MAP) < 0)
		log_warn("keys: mlock (the secret could be swapped out)");
	madvise(p, KEYS_MAP, MADV_DONTDUMP);
	return p;
}

/* "ACCESS:SECRET" (one line; trailing newline and spaces ignored) split in place. */
static int split_keys(struct oe *oe, const char *where)
{
	char *colon = strchr(oe->keys, ':');
	size_t len = strlen(oe->keys);

	while (len > 0 &&
	       (oe->keys[len - 1] == '\n' || oe->keys[len - 1] == '\r' || oe->keys[len - 1] == ' '))
		oe->keys[--len] = '\0';
	if (!colon || colon == oe->keys || colon[1] == '\0') {
		log_errx("keys: %s is not ACCESS_KEY:SECRET_KEY (the content is not shown)", where);
		return -1;
	}
	*colon = '\0';
	oe->access = oe->keys;
	/* A sim account goes on as ACCESS:SECRET:BALANCE[:HOLDINGS]: the secret ends at ':'. */
	oe->secret = colon + 1;
	if ((colon = strchr(colon + 1, ':')) != NULL)
		*colon = '\0';
	return 0;
}

static int read_fd(struct oe *oe, int fd)
{
	size_t got = 0;
	ssize_t n;

	/* pread from 0: every restart inherits the same open file, and so its offset. */
	while (got < KEYS_MAP - 1 &&
	       (n = pread(fd, oe->keys + got, KEYS_MAP - 1 - got, (off_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("keys: read");
			return -1;
		}
		got += (size_t)n;
	}
	oe->keys[got] = '\0';
	return split_keys(oe, "exchange.keys_file");
}

int oe_keys_load(struct oe *oe)
{
	const char *env = getenv(KEYS_FD_ENV);
	const struct config_list *acc = &oe->w->cfg.s.sim.accounts;
	int rc;

	if (!env && (oe->mode != MODE_SIM || acc->n == 0))
		return 0; /* paper mode, or no account: exchange calls fail with -EPERM */
	oe->keys = locked_page();
	if (!oe->keys)
		return -1;
	oe->keys_len = KEYS_MAP;
	if (env) {
		rc = read_fd(oe, OE_KEYS_FD);
		close(OE_KEYS_FD);
		unsetenv(KEYS_FD_ENV);
	} else {
		size_t len = strlen(acc->v[0]);

		if (len >= KEYS_MAP)
			return -1;
		memcpy(oe->keys, acc->v[0], len + 1);
		rc = split_keys(oe, "sim.accounts[0]");
	}
	return rc;
}

void oe_keys_free(struct oe *oe)
{
	if (!oe->keys)
		return;
	explicit_bzero(oe->keys, oe->keys_len);
	munlock(oe->keys, oe->keys_len);
	munmap(oe->keys, oe->keys_len);
	oe->keys = NULL;
	oe->access = oe->secret = NULL;
}

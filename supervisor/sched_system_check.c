/* The "system_check" local action: disk free of data_dir, available memory, the workers'
 * health, and the kernel clock (NTP-synchronised, not jumping); a problem is alerted once when
 * it appears and once when it clears, not at every check. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/timex.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/outbox.h"
#include "ipc/ipc.h"
#include "supervisor/sched_local.h"
#include "supervisor/supervisor.h"

#define DISK_MIN_PERCENT 5
#define DISK_MIN_BYTES (256ULL << 20)
#define MEM_MIN_PERCENT 5
#define CLOCK_MAXERROR_US 1000000 /* a kernel estimate of more than 1 s is not synchronised */
#define CLOCK_JUMP_MS 1000

enum check { CHECK_DISK, CHECK_MEMORY, CHECK_WORKERS, CHECK_NTP, CHECK_JUMP, CHECK_COUNT };

static const char *const check_kind[CHECK_COUNT] = {
	"disk_low", "memory_low", "worker_unhealthy", "clock_unsynchronised", "clock_jump",
};

/* What was alerted, so a lasting problem is said once. A jump is an event: always alerted. */
static int alerted[CHECK_COUNT];
static int64_t last_real_ms, last_mono_ms;

static void finding(struct supervisor *sup, enum check c, int bad, const char *text, char *msg,
		    size_t len)
{
	size_t used = strlen(msg);

	if (bad && used < len)
		snprintf(msg + used, len - used, "%s%s", used ? "; " : "", text);
	if (bad && (!alerted[c] || c == CHECK_JUMP))
		supervisor_alert(sup,
				 c == CHECK_WORKERS || c == CHECK_DISK ? OUTBOX_CRITICAL
								       : OUTBOX_WARNING,
				 check_kind[c], "system check: %s", text);
	else if (!bad && alerted[c] && c != CHECK_JUMP)
		supervisor_alert(sup, OUTBOX_INFO, check_kind[c], "system check: %s cleared",
				 check_kind[c]);
	alerted[c] = bad;
}

static long long meminfo_kb(const char *key)
{
	char line[128];
	long long kb = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			sscanf(line + n + 1, "%lld", &kb);
			break;
		}
	fclose(f);
	return kb;
}

int system_check_run(struct supervisor *sup, char *msg, size_t len)
{
	struct statvfs vfs;
	struct timex tx = {0};
	char text[256];
	int state, bad;
	long long total = meminfo_kb("MemTotal"), avail = meminfo_kb("MemAvailable");
	int64_t real = clock_real_ms(), mono = clock_mono_ms();

	msg[0] = '\0';
	if (statvfs(sup->cfg.s.data_dir, &vfs) == 0) {
		unsigned long long free_b = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		unsigned long long all_b = (unsigned long long)vfs.f_blocks * vfs.f_frsize;

		bad = free_b < DISK_MIN_BYTES || (all_b && free_b * 100 / all_b < DISK_MIN_PERCENT);
		snprintf(text, sizeof(text), "%llu MiB free of %llu MiB in %s", free_b >> 20,
			 all_b >> 20, sup->cfg.s.data_dir);
		finding(sup, CHECK_DISK, bad, text, msg, len);
	}
	if (total > 0 && avail >= 0) {
		bad = avail * 100 / total < MEM_MIN_PERCENT;
		snprintf(text, sizeof(text), "memory available %lld of %lld MiB", avail >> 10,
			 total >> 10);
		finding(sup, CHECK_MEMORY, bad, text, msg, len);
	}
	text[0] = '\0';
	for (int i = 0; i < ROLE_COUNT; i++) {
		const struct proc *p = &sup->procs[i];
		size_t used = strlen(text);

		if (proc_enabled(p) && (p->state == PROC_FATAL || p->state == PROC_BACKOFF))
			snprintf(text + used, sizeof(text) - used, "%s%s is %s", used ? ", " : "",
				 role_name(p->role), proc_state_name(p->state));
	}
	finding(sup, CHECK_WORKERS, text[0] != '\0', text, msg, len);
	/* adjtimex with modes 0 only reads the kernel's NTP state. */
	state = adjtimex(&tx);
	bad = state == TIME_ERROR || (tx.status & STA_UNSYNC) || tx.maxerror > CLOCK_MAXERROR_US;
	snprintf(text, sizeof(text), "kernel clock not NTP-synchronised (maxerror %ld us%s)",
		 (long)tx.maxerror, (tx.status & STA_UNSYNC) ? ", STA_UNSYNC" : "");
	finding(sup, CHECK_NTP, state >= 0 && bad, text, msg, len);
	/* Wall-clock time should advance as monotonic time does between two checks. */
	if (last_mono_ms) {
		int64_t skew = (real - last_real_ms) - (mono - last_mono_ms);

		snprintf(text, sizeof(text), "wall clock jumped by %+" PRId64 " ms", skew);
		finding(sup, CHECK_JUMP, skew > CLOCK_JUMP_MS || skew < -CLOCK_JUMP_MS, text, msg,
			len);
	}
	last_real_ms = real;
	last_mono_ms = mono;
	if (!msg[0])
		snprintf(msg, len, "all well");
	return JOB_OK;
}

/* Reading a process's and the system's resources from /proc and statvfs. A few small reads per
 * process and round: cheap enough for the supervisor's loop. */
#include "supervisor/monitor_proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

int monitor_parse_pid_stat(const char *text, uint64_t *cpu_ticks)
{
	/* After "pid (comm) ": state is field 3, utime 14 and stime 15. comm ends at the last
	 * ')', since a name may itself hold one. */
	const char *p = strrchr(text, ')');
	unsigned long long utime, stime;
	int field = 2;

	if (!p)
		return -1;
	p++;
	while (*p && field < 13) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		field++;
	}
	if (field != 13 || sscanf(p, " %llu %llu", &utime, &stime) != 2)
		return -1;
	*cpu_ticks = (uint64_t)utime + (uint64_t)stime;
	return 0;
}

/* The number after "Key:" at the start of a line of text, in kB. */
static int find_kb(const char *text, const char *key, int64_t *kb)
{
	size_t n = strlen(key);
	long long v;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, n) == 0 && p[n] == ':') {
			if (sscanf(p + n + 1, " %lld", &v) != 1 || v < 0)
				return -1;
			*kb = v;
			return 0;
		}
	}
	return -1;
}

int monitor_parse_status_rss(const char *text, int64_t *rss_kb)
{
	return find_kb(text, "VmRSS", rss_kb);
}

int monitor_parse_proc_stat(const char *text, uint64_t *total, uint64_t *idle)
{
	unsigned long long v[8] = {0};
	int n;

	if (strncmp(text, "cpu ", 4) != 0)
		return -1;
	n = sscanf(text + 4, " %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	if (n < 4)
		return -1;
	/* user nice system idle iowait irq softirq steal; guest is inside user already. */
	*total = 0;
	for (int i = 0; i < n; i++)
		*total += v[i];
	*idle = (uint64_t)v[3] + (n > 4 ? (uint64_t)v[4] : 0);
	return 0;
}

int monitor_parse_meminfo(const char *text, int64_t *total_kb, int64_t *avail_kb)
{
	if (find_kb(text, "MemTotal", total_kb) < 0 || find_kb(text, "MemAvailable", avail_kb) < 0)
		return -1;
	return 0;
}

int monitor_parse_loadavg(const char *text, double *l1, double *l5, double *l15)
{
	return sscanf(text, "%lf %lf %lf", l1, l5, l15) == 3 ? 0 : -1;
}

double monitor_cpu_pct(uint64_t before, uint64_t after, int64_t dt_ms, long ticks_per_s)
{
	if (dt_ms <= 0 || ticks_per_s <= 0 || after < before)
		return 0;
	return (double)(after - before) * 100000.0 / ((double)ticks_per_s * (double)dt_ms);
}

double monitor_sys_cpu_pct(uint64_t total0, uint64_t idle0, uint64_t total1, uint64_t idle1)
{
	uint64_t dt, di;

	if (total1 <= total0 || idle1 < idle0)
		return 0;
	dt = total1 - total0;
	di = idle1 - idle0;
	return di >= dt ? 0 : (double)(dt - di) * 100.0 / (double)dt;
}

/* The whole of a small /proc file, NUL-terminated, into buf. */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

int monitor_count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

int monitor_read_proc(pid_t pid, struct proc_reading *out)
{
	char path[64], buf[4096];

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0 ||
	    monitor_parse_pid_stat(buf, &out->cpu_ticks) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0 ||
	    monitor_parse_status_rss(buf, &out->rss_kb) < 0)
		return -1;
	/* A non-dumpable process of ours (each is) has a root-owned fd directory: another uid
	 * cannot list it, and the caller takes the count the process gave of itself. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	out->fds = monitor_count_dir(path);
	return 0;
}

int monitor_read_sys(const char *dir, struct sys_reading *out)
{
	char buf[8192];
	struct statvfs vfs;
	struct sysinfo si;
	int have_mem = 0, have_load = 0;

	memset(out, 0, sizeof(*out));
	out->have_cpu = read_small("/proc/stat", buf, sizeof(buf)) == 0 &&
			monitor_parse_proc_stat(buf, &out->cpu_total, &out->cpu_idle) == 0;
	have_mem = read_small("/proc/meminfo", buf, sizeof(buf)) == 0 &&
		   monitor_parse_meminfo(buf, &out->mem_total_kb, &out->mem_avail_kb) == 0;
	have_load = read_small("/proc/loadavg", buf, sizeof(buf)) == 0 &&
		    monitor_parse_loadavg(buf, &out->load1, &out->load5, &out->load15) == 0;
	/* The kernel's own numbers, in any sandbox: free + buffers is less than MemAvailable
	 * (the page cache is left out), so the fallback errs on the side of an alert. */
	if ((!have_mem || !have_load) && sysinfo(&si) == 0) {
		if (!have_mem) {
			out->mem_total_kb = (int64_t)((uint64_t)si.totalram * si.mem_unit / 1024);
			out->mem_avail_kb = (int64_t)(((uint64_t)si.freeram + si.bufferram) *
						      si.mem_unit / 1024);
			have_mem = 1;
		}
		if (!have_load) {
			out->load1 = (double)si.loads[0] / (1 << SI_LOAD_SHIFT);
			out->load5 = (double)si.loads[1] / (1 << SI_LOAD_SHIFT);
			out->load15 = (double)si.loads[2] / (1 << SI_LOAD_SHIFT);
			have_load = 1;
		}
	}
	if (statvfs(dir, &vfs) == 0) {
		out->disk_total_kb = (int64_t)((uint64_t)vfs.f_blocks * vfs.f_frsize / 1024);
		out->disk_free_kb = (int64_t)((uint64_t)vfs.f_bavail * vfs.f_frsize / 1024);
		out->have_disk = 1;
	}
	return out->have_cpu || have_mem || have_load || out->have_disk ? 0 : -1;
}

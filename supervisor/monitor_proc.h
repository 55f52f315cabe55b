/* Reading a process's and the system's resources from /proc and statvfs: the parsers take the
 * text of a file, so the unit tests feed them what the kernel writes. */
#ifndef TD_MONITOR_PROC_H
#define TD_MONITOR_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* One reading of a process: CPU time in clock ticks (utime + stime), resident set, open fds. */
struct proc_reading {
	uint64_t cpu_ticks;
	int64_t rss_kb;
	int fds;
};

/* One reading of the system: total and idle jiffies of the "cpu" line, memory, load, disk. */
struct sys_reading {
	uint64_t cpu_total, cpu_idle;
	int64_t mem_total_kb, mem_avail_kb;
	double load1, load5, load15;
	int64_t disk_total_kb, disk_free_kb; /* free for an unprivileged user (f_bavail) */
	int have_cpu;  /* /proc/stat was readable (systemd's ProcSubset=pid hides it) */
	int have_disk; /* statvfs(dir) answered */
};

/* utime + stime of /proc/PID/stat text (the comm field may hold spaces and ')'). 0, or -1. */
int monitor_parse_pid_stat(const char *text, uint64_t *cpu_ticks);
/* VmRSS of /proc/PID/status text, in kB. 0, or -1 when absent (a zombie has none). */
int monitor_parse_status_rss(const char *text, int64_t *rss_kb);
/* The "cpu" line of /proc/stat: total and idle (idle + iowait) jiffies. 0, or -1. */
int monitor_parse_proc_stat(const char *text, uint64_t *total, uint64_t *idle);
/* MemTotal and MemAvailable of /proc/meminfo, in kB. 0, or -1. */
int monitor_parse_meminfo(const char *text, int64_t *total_kb, int64_t *avail_kb);
/* The three averages of /proc/loadavg. 0, or -1. */
int monitor_parse_loadavg(const char *text, double *l1, double *l5, double *l15);

/* CPU % of one core between two readings dt_ms apart, given the clock ticks per second;
 * 0 when dt_ms is not positive or the counter went backwards (a new process). */
double monitor_cpu_pct(uint64_t before, uint64_t after, int64_t dt_ms, long ticks_per_s);
/* System CPU % busy between two readings of the cpu line. */
double monitor_sys_cpu_pct(uint64_t total0, uint64_t idle0, uint64_t total1, uint64_t idle1);

/* Reads /proc/PID/{stat,status,fd}. 0, or -1 (the process is gone); fds is -1 when the fd
 * directory may not be listed. */
int monitor_read_proc(pid_t pid, struct proc_reading *out);
/* Reads /proc/stat, /proc/meminfo, /proc/loadavg and statvfs(dir). Where /proc hides the
 * system files (ProcSubset=pid), memory and load come from sysinfo(2) and have_cpu is 0.
 * 0, or -1 when nothing could be read. */
int monitor_read_sys(const char *dir, struct sys_reading *out);
/* The entries of a directory (such as /proc/PID/fd) less "." and ".."; -1 when unreadable. */
int monitor_count_dir(const char *path);

#endif

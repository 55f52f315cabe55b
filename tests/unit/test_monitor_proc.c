/* The monitor's /proc parsers on text as the kernel writes it (a comm with spaces and ')', a
 * zombie without VmRSS), CPU % from two readings, the fd count of a real directory, and the
 * readers against this very process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/monitor_proc.h"

static void test_pid_stat(void **state)
{
	/* Fields 14 and 15 (utime, stime) after a comm that holds ") (" itself. */
	const char *text = "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1234 0 0 0 "
			   "150 25 0 0 20 0 1 0 5000 12345678 300 18446744073709551615\n";
	const char *bare = "17 (sh) R 1 17 17 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 2 3 4\n";
	uint64_t ticks = 0;

	(void)state;
	assert_int_equal(monitor_parse_pid_stat(text, &ticks), 0);
	assert_int_equal(ticks, 175);
	assert_int_equal(monitor_parse_pid_stat(bare, &ticks), 0);
	assert_int_equal(ticks, 10);
	assert_int_equal(monitor_parse_pid_stat("17 sh R 1", &ticks), -1);
	assert_int_equal(monitor_parse_pid_stat("17 (sh) R 1 17 17 0", &ticks), -1);
	assert_int_equal(monitor_parse_pid_stat("", &ticks), -1);
}

static void test_status_rss(void **state)
{
	const char *text = "Name:\ttradingd\nVmPeak:\t   20000 kB\nVmRSSX:\t 1 kB\n"
			   "VmRSS:\t    5120 kB\nThreads:\t1\n";
	const char *zombie = "Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n";
	int64_t kb = -1;

	(void)state;
	assert_int_equal(monitor_parse_status_rss(text, &kb), 0);
	assert_int_equal(kb, 5120);
	assert_int_equal(monitor_parse_status_rss(zombie, &kb), -1);
	assert_int_equal(monitor_parse_status_rss("VmRSS:\t garbage\n", &kb), -1);
}

static void test_cpu_percent_from_two_readings(void **state)
{
	(void)state;
	/* 50 ticks at 100 Hz in 1000 ms: half a core. */
	assert_float_equal(monitor_cpu_pct(100, 150, 1000, 100), 50.0, 1e-9);
	/* Two cores' worth in 500 ms. */
	assert_float_equal(monitor_cpu_pct(0, 100, 500, 100), 200.0, 1e-9);
	assert_float_equal(monitor_cpu_pct(150, 100, 1000, 100), 0.0, 0); /* a new process */
	assert_float_equal(monitor_cpu_pct(100, 150, 0, 100), 0.0, 0);
	assert_float_equal(monitor_sys_cpu_pct(1000, 800, 2000, 1550), 25.0, 1e-9);
	assert_float_equal(monitor_sys_cpu_pct(1000, 800, 1000, 800), 0.0, 0);
}

static void test_system_files(void **state)
{
	uint64_t total = 0, idle = 0;
	int64_t mt = 0, ma = 0;
	double l1, l5, l15;

	(void)state;
	assert_int_equal(monitor_parse_proc_stat("cpu  10 2 30 400 50 6 7 8 0 0\ncpu0 1 2 3 4\n",
						 &total, &idle),
			 0);
	assert_int_equal(total, 513);
	assert_int_equal(idle, 450);
	assert_int_equal(monitor_parse_proc_stat("cpu0 1 2 3 4\n", &total, &idle), -1);
	assert_int_equal(monitor_parse_meminfo("MemTotal:       16000 kB\nMemFree: 1 kB\n"
					       "MemAvailable:    4000 kB\n",
					       &mt, &ma),
			 0);
	assert_int_equal(mt, 16000);
	assert_int_equal(ma, 4000);
	assert_int_equal(monitor_parse_meminfo("MemTotal: 1 kB\n", &mt, &ma), -1);
	assert_int_equal(monitor_parse_loadavg("0.52 1.04 2.50 1/234 5678\n", &l1, &l5, &l15), 0);
	assert_float_equal(l15, 2.5, 1e-12);
	assert_int_equal(monitor_parse_loadavg("x", &l1, &l5, &l15), -1);
}

static void test_fds_of_a_directory(void **state)
{
	char dir[] = "/tmp/td-monitor-XXXXXX", path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(monitor_count_dir(dir), 0);
	for (int i = 0; i < 3; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%d", dir, i);
		f = fopen(path, "w");
		assert_non_null(f);
		fclose(f);
	}
	assert_int_equal(monitor_count_dir(dir), 3);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
	assert_int_equal(monitor_count_dir(dir), -1);
}

static void test_this_process(void **state)
{
	struct proc_reading r;
	struct sys_reading s;
	int before;

	(void)state;
	assert_int_equal(monitor_read_proc(getpid(), &r), 0);
	assert_true(r.rss_kb > 0);
	before = r.fds;
	assert_true(before >= 3);
	{
		FILE *f = fopen("/proc/self/stat", "r");

		assert_int_equal(monitor_read_proc(getpid(), &r), 0);
		assert_int_equal(r.fds, before + 1); /* one more open file */
		fclose(f);
	}
	assert_int_equal(monitor_read_sys("/", &s), 0);
	assert_true(s.mem_total_kb > s.mem_avail_kb && s.mem_avail_kb > 0);
	assert_true(s.disk_total_kb >= s.disk_free_kb && s.cpu_total > s.cpu_idle);
	assert_int_equal(monitor_read_proc(0x7ffffff0, &r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pid_stat),
		cmocka_unit_test(test_status_rss),
		cmocka_unit_test(test_cpu_percent_from_two_readings),
		cmocka_unit_test(test_system_files),
		cmocka_unit_test(test_fds_of_a_directory),
		cmocka_unit_test(test_this_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

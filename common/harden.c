/* What every tradingd process does to itself first: no core files, not dumpable, so that a
 * process of the same uid can neither attach to it nor read its memory, environment or fds. */
#include "harden.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include "log.h"

void harden_process(void)
{
	struct rlimit none = {0, 0};

	/* execve resets dumpable, so each process sets it for itself after its exec. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0 || setrlimit(RLIMIT_CORE, &none) < 0)
		fatal("cannot make this process undumpable");
}

/* systemd's readiness protocol: datagrams such as "READY=1" to $NOTIFY_SOCKET.
 * Silent no-ops when not started by systemd. */
#ifndef TD_SDNOTIFY_H
#define TD_SDNOTIFY_H

#include <stdint.h>

/* Sends state (e.g. "READY=1\nSTATUS=all workers running"). 1 sent, 0 no socket, -1 error. */
int sd_notify_send(const char *state);
/* The watchdog interval systemd asked for, in ms, or 0 when none (WATCHDOG_USEC/WATCHDOG_PID). */
uint64_t sd_watchdog_ms(void);

#endif

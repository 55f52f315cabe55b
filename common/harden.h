/* What every tradingd process does to itself first: no core files, not dumpable, so that a
 * process of the same uid can neither attach to it nor read its memory, environment or fds. */
#ifndef TD_HARDEN_H
#define TD_HARDEN_H

/* Exits (fatal) when the kernel refuses: a process that holds secrets must not run exposed. */
void harden_process(void);

#endif

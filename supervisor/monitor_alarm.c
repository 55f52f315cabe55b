/* A threshold with hysteresis (raise at X, clear at Y): the state machine of every resource
 * alert the monitor raises. */
#include "supervisor/monitor_alarm.h"

enum alarm_change alarm_update(struct alarm *a, enum alarm_dir dir, double value, double raise_at,
			       double clear_at)
{
	int over = dir == ALARM_ABOVE ? value > raise_at : value < raise_at;
	int back = dir == ALARM_ABOVE ? value < clear_at : value > clear_at;

	if (!a->raised && over) {
		a->raised = 1;
		return ALARM_RAISED;
	}
	if (a->raised && back && !over) {
		a->raised = 0;
		return ALARM_CLEARED;
	}
	return ALARM_NONE;
}

/* A threshold with hysteresis: raised when a value crosses raise_at, cleared only once it is
 * back beyond clear_at, so that a value hovering at the line raises one alert, not a storm. */
#ifndef TD_MONITOR_ALARM_H
#define TD_MONITOR_ALARM_H

enum alarm_dir {
	ALARM_ABOVE, /* raised when value > raise_at, cleared when value < clear_at */
	ALARM_BELOW, /* raised when value < raise_at, cleared when value > clear_at */
};

enum alarm_change {
	ALARM_NONE,
	ALARM_RAISED,
	ALARM_CLEARED,
};

struct alarm {
	int raised;
};

/* Feeds one value; says whether the alarm went up or down with it. */
enum alarm_change alarm_update(struct alarm *a, enum alarm_dir dir, double value, double raise_at,
			       double clear_at);

#endif

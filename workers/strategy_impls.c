/* The built-in strategies by name: a second strategy is one new file and one row here. */
#include <string.h>

#include "workers/strategy_int.h"

extern const struct strategy_impl strategy_breakout;

static const struct strategy_impl *const builtins[] = {
	&strategy_breakout,
	NULL,
};

const struct strategy_impl *strategy_builtin(const char *name)
{
	for (size_t i = 0; builtins[i]; i++)
		if (strcmp(builtins[i]->name, name) == 0)
			return builtins[i];
	return NULL;
}

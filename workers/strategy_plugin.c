/* Strategy plugins: a shared object named in the config, loaded with dlopen; its interface
 * version is checked before anything else of it is used. */
#include <dlfcn.h>
#include <stdio.h>

#include "workers/strategy_int.h"

typedef const struct strategy_impl *(*plugin_entry_fn)(void);

const struct strategy_impl *strategy_plugin_load(const char *path, void **handle, char *err,
						 size_t len)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	plugin_entry_fn entry;
	const struct strategy_impl *impl;
	const char *e;

	*handle = NULL;
	if (!dl) {
		e = dlerror();
		snprintf(err, len, "strategy plugin %s: cannot load: %s", path, e ? e : "?");
		return NULL;
	}
	*(void **)&entry = dlsym(dl, STRATEGY_PLUGIN_SYMBOL);
	if (!entry) {
		snprintf(err, len, "strategy plugin %s: no symbol %s", path,
			 STRATEGY_PLUGIN_SYMBOL);
		dlclose(dl);
		return NULL;
	}
	impl = entry();
	if (!impl || impl->api_version != STRATEGY_API_VERSION) {
		snprintf(err, len,
			 "strategy plugin %s: interface version %u, but this tradingd needs "
			 "version %d: refused (rebuild it against workers/strategy_api.h)",
			 path, impl ? impl->api_version : 0, STRATEGY_API_VERSION);
		dlclose(dl);
		return NULL;
	}
	if (!impl->name || !impl->name[0] || !impl->init) {
		snprintf(err, len, "strategy plugin %s: no name or no init: refused", path);
		dlclose(dl);
		return NULL;
	}
	*handle = dl;
	return impl;
}

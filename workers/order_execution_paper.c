/* Paper mode: the same intents, attempts, orders and fills, but each order is filled locally at
 * the exchange's last public price, made worse by orders.paper_slippage_bps, with a fee. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/order_execution.h"

void oe_paper_step(struct oe *oe, int64_t intent_id)
{
	struct oe_intent it;

	if (oe_intent_load(oe, intent_id, &it) == 0 && strcmp(it.state, "pending") == 0)
		log_warnx("intent %" PRId64 ": paper fills are not implemented yet", intent_id);
	oe_step_done(oe);
}

/* Average-cost accounting of fills, exact in dec8: a buy adds its funds and fee to the cost,
 * a sell takes out the average cost of what it sold and realises the rest, less its fee. */
#include "workers/order_execution.h"

int oe_position_apply(struct oe_position *p, int is_bid, dec8 volume, dec8 funds, dec8 fee,
		      struct oe_trade_effect *out)
{
	dec8 sold_cost = 0, sold;

	out->realized = 0;
	if (volume <= 0 || funds < 0 || fee < 0)
		return -1;
	if (__builtin_add_overflow(p->fees, fee, &p->fees))
		return -1;
	if (is_bid) {
		if (__builtin_add_overflow(p->volume, volume, &p->volume) ||
		    __builtin_add_overflow(p->cost, funds, &p->cost) ||
		    __builtin_add_overflow(p->cost, fee, &p->cost))
			return -1;
		return 0;
	}
	/* Selling more than the book knows (holdings from before tradingd) costs nothing known:
	 * only the part the position holds carries its average cost. */
	sold = volume < p->volume ? volume : p->volume;
	if (sold > 0) {
		if (sold == p->volume)
			sold_cost = p->cost;
		else if (dec8_muldiv(p->cost, sold, p->volume, DEC8_HALF_EVEN, &sold_cost) < 0)
			return -1;
	}
	out->realized = funds - fee - sold_cost;
	p->volume -= sold;
	p->cost -= sold_cost;
	if (__builtin_add_overflow(p->realized, out->realized, &p->realized))
		return -1;
	return 0;
}

int oe_fee_split(dec8 fee_total, const dec8 *funds, size_t n, dec8 *fees)
{
	dec8 sum = 0, given = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (funds[i] < 0 || __builtin_add_overflow(sum, funds[i], &sum))
			return -1;
	for (size_t i = 0; i + 1 < n; i++) {
		if (sum == 0)
			fees[i] = 0;
		else if (dec8_muldiv(fee_total, funds[i], sum, DEC8_DOWN, &fees[i]) < 0)
			return -1;
		given += fees[i];
	}
	fees[n - 1] = fee_total - given;
	return 0;
}

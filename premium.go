package baohan

import "github.com/shopspring/decimal"

// fen is the smallest unit of the renminbi the premium is stated in (0.01).
const fenPlaces = 2

// Premium is the premium (保费) of a bid guarantee: the bond amount
// (保证金金额) times the rate, rounded half-up to the fen (0.01 元), and never
// below the product's minimum premium. A zero or negative minimum means no
// minimum. Rounding is half away from zero at the third decimal place
// (0.005 元 rounds up to 0.01 元), the rule Chinese invoicing uses.
//
// All three are exact decimals; the result always has two decimal places
// (StringFixed(2) gives the wire form, e.g. "100.00").
func Premium(bond, rate, minimum decimal.Decimal) decimal.Decimal {
	p := bond.Mul(rate).Round(fenPlaces)
	if minimum.IsPositive() {
		m := minimum.Round(fenPlaces)
		if p.LessThan(m) {
			p = m
		}
	}
	return p
}

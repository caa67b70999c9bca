package baohan

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// capitalDigits are the financial capitals (大写数字) of 0 to 9.
var capitalDigits = [10]string{"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"}

// capitalPlaces are the units inside a group of four digits, lowest first.
var capitalPlaces = [4]string{"", "拾", "佰", "仟"}

// maxCapitalAmount bounds AmountInCapitals: up to 9999 万亿 (10^16 − 0.01).
var maxCapitalAmount = decimal.New(1, 16)

// AmountInCapitals writes an amount of renminbi in Chinese financial
// capitals (大写金额), the form a guarantee states beside the figures:
//
//	20000.00  -> 人民币贰万元整
//	1234.56   -> 人民币壹仟贰佰叁拾肆元伍角陆分
//	100005    -> 人民币壹拾万零伍元整
//	325.04    -> 人民币叁佰贰拾伍元零肆分
//	0.50      -> 人民币伍角
//	0         -> 人民币零元整
//
// The rules are those of the People's Bank's 支付结算办法 (附件 正确填写票据
// 和结算凭证的基本规定): "整" after 元 when there are no 角 and 分, none after
// 分 (and none after 角, which the rule leaves optional); a leading 1 in the
// tens is written 壹拾; one 零 stands for any run of zeros between non-zero
// digits, also across 万 and 亿; a zero 元 digit before a non-zero 角 takes no
// 零 (the rule makes it optional), a zero 角 before a non-zero 分 takes one.
//
// The amount must be exact to the fen: a negative amount, a third decimal
// place that is not zero, or an amount of 10^16 元 or more is an error, never
// rounded.
func AmountInCapitals(d decimal.Decimal) (string, error) {
	if d.IsNegative() {
		return "", fmt.Errorf("amount %s is negative", d.String())
	}
	if !d.Truncate(2).Equal(d) {
		return "", fmt.Errorf("amount %s has more than two decimal places (fen is the smallest unit)", d.String())
	}
	if !d.LessThan(maxCapitalAmount) {
		return "", fmt.Errorf("amount %s is too large (at most 9999万亿元)", d.String())
	}
	fen := d.Shift(2).IntPart()
	yuan, jiao, cents := fen/100, (fen/10)%10, fen%10

	var b strings.Builder
	b.WriteString("人民币")
	if yuan > 0 {
		writeCapitalInteger(&b, yuan)
		b.WriteString("元")
	}
	switch {
	case jiao == 0 && cents == 0:
		if yuan == 0 {
			b.WriteString("零元")
		}
		b.WriteString("整")
	case jiao == 0:
		if yuan > 0 {
			b.WriteString("零")
		}
		b.WriteString(capitalDigits[cents])
		b.WriteString("分")
	default:
		b.WriteString(capitalDigits[jiao])
		b.WriteString("角")
		if cents != 0 {
			b.WriteString(capitalDigits[cents])
			b.WriteString("分")
		}
	}
	return b.String(), nil
}

// writeCapitalInteger writes n > 0 in capitals, in groups of four digits
// (个, 万, 亿, 万亿).
func writeCapitalInteger(b *strings.Builder, n int64) {
	var groups []int64
	for ; n > 0; n /= 10000 {
		groups = append(groups, n%10000)
	}
	started := false // a non-zero digit has been written
	zero := false    // zeros are pending since the last non-zero digit
	for gi := len(groups) - 1; gi >= 0; gi-- {
		g := groups[gi]
		if g == 0 {
			if started {
				zero = true
			}
			continue
		}
		for p := 3; p >= 0; p-- {
			digit := (g / pow10(p)) % 10
			if digit == 0 {
				if started {
					zero = true
				}
				continue
			}
			if zero {
				b.WriteString("零")
				zero = false
			}
			b.WriteString(capitalDigits[digit])
			b.WriteString(capitalPlaces[p])
			started = true
		}
		switch gi {
		case 1:
			b.WriteString("万")
		case 2:
			b.WriteString("亿")
		case 3:
			// 万亿: the 亿 is shared with group 2 when that group has digits.
			b.WriteString("万")
			if groups[2] == 0 {
				b.WriteString("亿")
			}
		}
	}
}

func pow10(p int) int64 {
	r := int64(1)
	for ; p > 0; p-- {
		r *= 10
	}
	return r
}

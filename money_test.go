package baohan

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestAmountInCapitals(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"20000.00", "人民币贰万元整"},
		{"1234.56", "人民币壹仟贰佰叁拾肆元伍角陆分"},
		{"0", "人民币零元整"},
		{"0.00", "人民币零元整"},
		{"0.5", "人民币伍角"},
		{"0.05", "人民币伍分"},
		{"0.56", "人民币伍角陆分"},
		{"1", "人民币壹元整"},
		{"10", "人民币壹拾元整"},
		{"16.15", "人民币壹拾陆元壹角伍分"}, // 支付结算办法: a leading 1 is written 壹拾
		{"100", "人民币壹佰元整"},
		{"101", "人民币壹佰零壹元整"},
		{"110", "人民币壹佰壹拾元整"},
		{"1001", "人民币壹仟零壹元整"},
		{"1010", "人民币壹仟零壹拾元整"},
		{"1409.50", "人民币壹仟肆佰零玖元伍角"}, // 支付结算办法 example
		{"6007.14", "人民币陆仟零柒元壹角肆分"}, // 支付结算办法 example
		{"1680.32", "人民币壹仟陆佰捌拾元叁角贰分"},
		{"325.04", "人民币叁佰贰拾伍元零肆分"}, // 支付结算办法 example
		{"1000.05", "人民币壹仟元零伍分"},
		{"10000", "人民币壹万元整"},
		{"100000", "人民币壹拾万元整"},
		{"100005", "人民币壹拾万零伍元整"},
		{"107000.53", "人民币壹拾万零柒仟元伍角叁分"},
		{"1000000", "人民币壹佰万元整"},
		{"10010000", "人民币壹仟零壹万元整"},
		{"100000000", "人民币壹亿元整"},
		{"100010000", "人民币壹亿零壹万元整"},
		{"100000001", "人民币壹亿零壹元整"},
		{"123456789.01", "人民币壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元零壹分"},
		{"1000000000000", "人民币壹万亿元整"},
		{"1000000050000", "人民币壹万亿零伍万元整"},
		{"1234567800000000", "人民币壹仟贰佰叁拾肆万伍仟陆佰柒拾捌亿元整"},
		{"9999999999999999.99", "人民币玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"},
		{"20000.000", "人民币贰万元整"}, // trailing zeros beyond the fen are exact
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := AmountInCapitals(decimal.RequireFromString(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("AmountInCapitals(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestAmountInCapitalsErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{"-1", "negative"},
		{"0.001", "more than two decimal places"},
		{"20000.005", "more than two decimal places"},
		{"10000000000000000", "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := AmountInCapitals(decimal.RequireFromString(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("AmountInCapitals(%s) error = %v, want %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

// Every amount up to 10 000.00 in steps that cross every zero rule has no
// doubled 零, no 零 before a unit and no trailing 零.
func TestAmountInCapitalsNoDoubledZero(t *testing.T) {
	for fen := int64(0); fen <= 1_000_000; fen += 7 {
		s, err := AmountInCapitals(decimal.New(fen, -2))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"零零", "零元", "零万", "零亿", "零角", "零分", "零整"} {
			if strings.Contains(s, bad) && s != "人民币零元整" {
				t.Fatalf("%d fen: %s contains %s", fen, s, bad)
			}
		}
	}
}

package baohan

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestPremium(t *testing.T) {
	tests := []struct {
		name            string
		bond, rate, min string
		want            string
	}{
		{"exact", "20000.00", "0.005", "0", "100.00"},
		{"rounds half up at the fen", "1001", "0.005", "0", "5.01"},      // 5.005
		{"rounds down below half", "1000.9", "0.005", "0", "5.00"},       // 5.0045
		{"rounds up above half", "1000.99", "0.005", "0", "5.00"},        // 5.00495
		{"half exactly from many digits", "333.3", "0.015", "0", "5.00"}, // 4.9995 -> 5.00
		{"tiny remainder", "12345.67", "0.003", "0", "37.04"},            // 37.03701
		{"minimum applies", "20000", "0.001", "50", "50.00"},
		{"minimum equals", "50000", "0.001", "50", "50.00"},
		{"above minimum", "50001", "0.001", "50", "50.00"},        // 50.001 -> 50.00, equals minimum
		{"above minimum rounds", "50006", "0.001", "50", "50.01"}, // 50.006
		{"minimum with cents", "100", "0.001", "0.5", "0.50"},
		{"no minimum", "100", "0.001", "0", "0.10"},
		{"negative minimum ignored", "100", "0.001", "-5", "0.10"},
		{"zero bond", "0", "0.005", "0", "0.00"},
		{"zero bond with minimum", "0", "0.005", "200", "200.00"},
		{"large bond exact", "800000000.00", "0.0035", "0", "2800000.00"},
		{"rate with many places", "123456.78", "0.00125", "0", "154.32"}, // 154.320975
		{"half-up 0.125", "25", "0.005", "0", "0.13"},                    // 0.125
		{"half-up 0.115", "23", "0.005", "0", "0.12"},                    // 0.115 (not banker's)
		{"minimum rounded to fen", "1", "0.001", "10.005", "10.01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Premium(decimal.RequireFromString(tt.bond), decimal.RequireFromString(tt.rate), decimal.RequireFromString(tt.min))
			if got.StringFixed(2) != tt.want {
				t.Errorf("Premium(%s, %s, %s) = %s, want %s", tt.bond, tt.rate, tt.min, got.StringFixed(2), tt.want)
			}
		})
	}
}

func FuzzPremium(f *testing.F) {
	f.Add("20000.00", "0.005", "100")
	f.Fuzz(func(t *testing.T, b, r, m string) {
		bond, err1 := decimal.NewFromString(b)
		rate, err2 := decimal.NewFromString(r)
		min, err3 := decimal.NewFromString(m)
		if err1 != nil || err2 != nil || err3 != nil {
			return
		}
		if bond.Exponent() < -20 || rate.Exponent() < -20 || min.Exponent() < -20 || bond.Exponent() > 20 || rate.Exponent() > 20 || min.Exponent() > 20 {
			return
		}
		p := Premium(bond, rate, min)
		if min.IsPositive() && p.LessThan(min.Round(2)) {
			t.Fatalf("premium %s below minimum %s", p, min)
		}
		if !p.Equal(p.Round(2)) {
			t.Fatalf("premium %s not rounded to the fen", p)
		}
		if d := p.Sub(bond.Mul(rate)).Abs(); p.GreaterThan(min.Round(2)) && d.GreaterThan(decimal.New(5, -3)) {
			t.Fatalf("premium %s is %s from the exact %s", p, d, bond.Mul(rate))
		}
	})
}

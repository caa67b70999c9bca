package institution

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Payment is a premium to collect.
type Payment struct {
	// ApplicationID is the idempotency key: a provider must not charge
	// twice for one application (a bidder may retry after a crash).
	ApplicationID string
	ApplyNo       string
	BidderName    string
	BidderCode    string
	Amount        string // 元, two decimals
	PayerName     string // the bidder's basic account, when the platform requires it
	PayerAccount  string
}

// PaymentProvider collects premiums. Pay returns the provider's reference
// once the money is received, or an error (shown to the bidder) when it
// was not. Real deployments plug their payment gateway here.
type PaymentProvider interface {
	Pay(ctx context.Context, p Payment) (reference string, err error)
}

// SimulatedPayments accepts every payment with a generated reference
// (SIM-yyyymmdd-<12 hex>). It is the embedded default, for tests and demos.
type SimulatedPayments struct{}

// Pay implements PaymentProvider.
func (SimulatedPayments) Pay(_ context.Context, _ Payment) (string, error) {
	b := make([]byte, 6)
	rand.Read(b)
	return "SIM-" + time.Now().Format("20060102") + "-" + strings.ToUpper(hex.EncodeToString(b)), nil
}

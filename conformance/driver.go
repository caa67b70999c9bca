package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrUnsupported is returned by a driver that cannot make the
// implementation do a step; the checks that need the step are skipped.
var ErrUnsupported = errors.New("the driver cannot do this step")

// PlatformDriver makes a platform under test do what only a platform
// starts: a bidder's application, the bid opening, an invoice request, a
// withdrawal, a cancellation, a claim, a give-up. Each method returns once
// the action is started; the kit then waits for the platform's call.
type PlatformDriver interface {
	// Apply makes the platform send n new applications (baohanapply) to
	// the kit, for sections whose bid opening is still ahead.
	Apply(ctx context.Context, n int) error
	// OpenBids makes the platform open the bids of applyno's section, so
	// that it sends baohanrestore.
	OpenBids(ctx context.Context, applyno string) error
	// RequestInvoice makes the bidder of applyno ask for an invoice
	// (invoiceapply).
	RequestInvoice(ctx context.Context, applyno string) error
	// Quit makes the bidder withdraw applyno's guarantee (quitapply).
	Quit(ctx context.Context, applyno string) error
	// Cancel makes the bid agent cancel applyno's guarantee (canclenotice).
	Cancel(ctx context.Context, applyno string) error
	// Claim makes the bid agent claim on applyno's guarantee (claimsnotice).
	Claim(ctx context.Context, applyno string) error
	// GiveUp makes the bidder abandon applyno (giveupapply).
	GiveUp(ctx context.Context, applyno string) error
}

// InstitutionDriver makes an institution under test do what only the
// bidder or the institution's staff start there.
type InstitutionDriver interface {
	// Underwrite takes the bidder through the institution's flow behind
	// the redirecturl (open the digital envelope, sign the agreement, pay)
	// and has it approved, so that the institution sends baohannotice.
	Underwrite(ctx context.Context, b *BidderTask) error
	// GiveUp makes the bidder abandon the application at the institution
	// (giveupnotice).
	GiveUp(ctx context.Context, b *BidderTask) error
}

// ClaimOutcomeDriver is what an InstitutionDriver implements when it can
// make the institution report a claim's outcome and its recovery (the
// optional claimsresultnotice and claimsrepaynotice); without it those
// checks are skipped.
type ClaimOutcomeDriver interface {
	// PayClaim makes the institution record the claim on applyno as paid
	// (已赔付) with amount, so that it sends claimsresultnotice.
	PayClaim(ctx context.Context, applyno, amount string) error
	// RecoverClaim makes the institution record amount recovered from
	// the bidder (已追偿), so that it sends claimsrepaynotice.
	RecoverClaim(ctx context.Context, applyno, amount string) error
}

// BidderTask is what a bidder has in hand for one application.
type BidderTask struct {
	ApplyNo     string
	RedirectURL string
	// Envelope is the digitalenvelope sent in baohanapply; EnvelopeKey
	// is the applydata key inside it, for drivers that skip the CA.
	Envelope    string
	EnvelopeKey []byte
	Bidder      *Bidder
}

// ManualPlatform is a PlatformDriver for a person: each step prints what
// to do on the platform to Out. The kit then waits for the call.
type ManualPlatform struct {
	Out io.Writer
	// ListenURL is the kit's endpoint, quoted in the instructions.
	ListenURL string
}

func (m ManualPlatform) say(format string, a ...any) error {
	fmt.Fprintf(m.Out, "\n>>> ACTION NEEDED on your platform: "+format+"\n", a...)
	return nil
}

func (m ManualPlatform) Apply(_ context.Context, n int) error {
	return m.say("make %d applications (投保申请) for this institution, in sections whose bid opening (开标) is at least 30 minutes ahead; "+
		"your platform's base URL for this institution must be %s. Waiting for %d baohanapply.", n, m.ListenURL, n)
}
func (m ManualPlatform) OpenBids(_ context.Context, applyno string) error {
	return m.say("open the bids (开标) of the section of applyno %s, so that your platform sends baohanrestore.", applyno)
}
func (m ManualPlatform) RequestInvoice(_ context.Context, applyno string) error {
	return m.say("as the bidder of applyno %s, ask for an invoice (发票申请, invoiceapply).", applyno)
}
func (m ManualPlatform) Quit(_ context.Context, applyno string) error {
	return m.say("as the bidder of applyno %s, withdraw the guarantee (退保申请, quitapply).", applyno)
}
func (m ManualPlatform) Cancel(_ context.Context, applyno string) error {
	return m.say("as the bid agent, cancel the guarantee of applyno %s (注销保函, canclenotice).", applyno)
}
func (m ManualPlatform) Claim(_ context.Context, applyno string) error {
	return m.say("as the bid agent, claim on the guarantee of applyno %s (理赔, claimsnotice), with at least one claim file.", applyno)
}
func (m ManualPlatform) GiveUp(_ context.Context, applyno string) error {
	return m.say("as the bidder, abandon application %s (放弃申请, giveupapply).", applyno)
}

// ManualInstitution is an InstitutionDriver for a person.
type ManualInstitution struct {
	Out io.Writer
	// BidderDir is where the bidder's key and certificate were written,
	// quoted in the instructions.
	BidderDir string
}

func (m ManualInstitution) Underwrite(_ context.Context, b *BidderTask) error {
	fmt.Fprintf(m.Out, "\n>>> ACTION NEEDED on your institution: as the bidder %s (credit code %s), open %s, "+
		"decrypt the application with the bidder's certificate (key and certificate in %s; the envelope key is %x), "+
		"sign the agreement, pay, and have the application approved. Waiting for baohannotice of %s.\n",
		b.Bidder.Name, b.Bidder.CreditCode, b.RedirectURL, m.BidderDir, b.EnvelopeKey, b.ApplyNo)
	return nil
}

func (m ManualInstitution) PayClaim(_ context.Context, applyno, amount string) error {
	fmt.Fprintf(m.Out, "\n>>> ACTION NEEDED on your institution: record the claim on applyno %s as paid (已赔付), %s yuan, "+
		"with a transfer voucher, so that it sends claimsresultnotice.\n", applyno, amount)
	return nil
}

func (m ManualInstitution) RecoverClaim(_ context.Context, applyno, amount string) error {
	fmt.Fprintf(m.Out, "\n>>> ACTION NEEDED on your institution: record %s yuan recovered from the bidder (已追偿) for the claim on applyno %s, "+
		"so that it sends claimsrepaynotice.\n", amount, applyno)
	return nil
}

func (m ManualInstitution) GiveUp(_ context.Context, b *BidderTask) error {
	fmt.Fprintf(m.Out, "\n>>> ACTION NEEDED on your institution: as the bidder, abandon application %s at the institution "+
		"(放弃申请; %s), so that it sends giveupnotice.\n", b.ApplyNo, b.RedirectURL)
	return nil
}

package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
)

// The scan-to-verify scenario (验真): the QR code printed on a guarantee
// the platform received is decoded from its picture and opened; the
// institution answers 有效, and 已退保 for the guarantee withdrawn in the
// quit scenario; a tampered copy of a guarantee is refused with the entry
// that fails.

const scVerify = "7 扫码验真 (QR → 有效, 已退保; tampered refused)"

// scannedGuarantee is the ciphertext guarantee of role's application as
// the platform holds it, its package, and its QR code decoded.
func (r *runner) scannedGuarantee(ctx context.Context, role string) (doc []byte, pkg *ofd.Package, qr string, err error) {
	no := r.apps[role]
	if no == "" {
		return nil, nil, "", errors.New("no application")
	}
	if doc, _, err = r.sys.Platform.ReadGuarantee(ctx, no, 1); err != nil {
		return nil, nil, "", err
	}
	if pkg, err = ofd.Open(doc); err != nil {
		return nil, nil, "", err
	}
	qr, err = guarantee.ReadQR(pkg)
	return doc, pkg, qr, err
}

// scanAndVerify decodes the QR code of role's guarantee, opens the URL it
// carries and expects the status want.
func (r *runner) scanAndVerify(role, want string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		_, _, qr, err := r.scannedGuarantee(ctx, role)
		if err != nil {
			return "", err
		}
		u, err := url.Parse(qr)
		if err != nil {
			return "", fmt.Errorf("QR code %q: %w", qr, err)
		}
		q := u.Query()
		base := strings.TrimSuffix(qr, "?"+u.RawQuery)
		if base != r.sys.InstitutionURL+"/verify" {
			return "", fmt.Errorf("the QR code leads to %s, not to the institution's verification page %s/verify", base, r.sys.InstitutionURL)
		}
		v, err := institution.VerifyRemote(ctx, &http.Client{Timeout: 10 * time.Second}, base, q.Get("baohanno"), q.Get("code"))
		if err != nil {
			return "", err
		}
		if v.Status != want {
			return "", fmt.Errorf("the institution answers %s (%s), want %s", v.StatusLabel, v.Status, institution.VerifyStatusLabel(want))
		}
		return fmt.Sprintf("QR code %s → %s, %s, %s 元", qr, v.StatusLabel, v.Bidder, v.Amount), nil
	}
}

// tamperedRefused changes one attribute of the first page of role's
// guarantee and uploads the copy to /verify: it must be refused, naming
// the page; the genuine file is recognised.
func (r *runner) tamperedRefused(role string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		doc, pkg, qr, err := r.scannedGuarantee(ctx, role)
		if err != nil {
			return "", err
		}
		base, _, _ := strings.Cut(qr, "?")
		hc := &http.Client{Timeout: 30 * time.Second}
		genuine, err := institution.VerifyFileRemote(ctx, hc, base, doc)
		if err != nil {
			return "", err
		}
		if !genuine.Verified() {
			return "", fmt.Errorf("the genuine file is not recognised: %s", genuine.Message)
		}
		const page = "Doc_0/Pages/Page_0/Content.xml"
		content, err := pkg.ReadFile(page)
		if err != nil {
			return "", err
		}
		if err := pkg.Replace(page, bytes.Replace(content, []byte("Size="), []byte("Size= "), 1), time.Now()); err != nil {
			return "", err
		}
		tampered, err := pkg.Bytes()
		if err != nil {
			return "", err
		}
		f, err := institution.VerifyFileRemote(ctx, hc, base, tampered)
		if err != nil {
			return "", err
		}
		if f.Issued || f.SealsOK || !strings.Contains(f.SealFailure, page) {
			return "", fmt.Errorf("the tampered file was not refused naming %s: %s", page, f.Message)
		}
		return "genuine: " + genuine.Message + "; tampered: " + f.SealFailure, nil
	}
}

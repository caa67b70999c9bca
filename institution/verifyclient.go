package institution

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/ofd/guarantee"
)

// The client side of verification (验真): what `baohan guarantee verify`
// and the demo ask an institution's verification URL.

// maxVerifyAnswer bounds an institution's answer read by the client.
const maxVerifyAnswer = 1 << 20

// VerifyRemote asks the verification URL verifyURL (as printed in the QR
// code without its query, e.g. https://fi.example.cn/verify) about the
// guarantee baohanNo with code. An answer other than a verification is
// an error with the institution's message (ErrNotVerified's message for
// an unknown number or a wrong code).
func VerifyRemote(ctx context.Context, hc *http.Client, verifyURL, baohanNo, code string) (*Verification, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, guarantee.QRContent(baohanNo, code, verifyURL), nil)
	if err != nil {
		return nil, fmt.Errorf("verification URL %q: %w", verifyURL, err)
	}
	var v Verification
	if err := verifyExchange(hc, req, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// VerifyFileRemote posts doc to the verification URL and returns the
// institution's verdict on the file.
func VerifyFileRemote(ctx context.Context, hc *http.Client, verifyURL string, doc []byte) (*FileVerification, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, verifyURL, bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("verification URL %q: %w", verifyURL, err)
	}
	req.Header.Set("Content-Type", "application/ofd")
	var f FileVerification
	if err := verifyExchange(hc, req, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

func verifyExchange(hc *http.Client, req *http.Request, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxVerifyAnswer))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", req.URL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiError
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			if resp.StatusCode == http.StatusNotFound {
				return &baohan.Error{Code: baohan.ENotFound, Message: e.Error}
			}
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, e.Error)
		}
		return fmt.Errorf("HTTP %d from %s", resp.StatusCode, req.URL.Redacted())
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the answer of %s is not a verification: %w", req.URL.Redacted(), err)
	}
	return nil
}

// Summary is the verification in a few lines of text (Chinese labels).
func (v *Verification) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "保函编号  %s\n状态      %s (%s)\n出函机构  %s\n投标人    %s（%s）\n担保金额  %s 元（%s）\n开立日期  %s\n有效期    %s",
		v.BaohanNo, v.StatusLabel, v.Status, v.Institution, v.Bidder, v.BidderCode, v.Amount, v.AmountCapitals, v.IssueDate, v.Validity)
	if v.ValidUntil != "" {
		fmt.Fprintf(&b, "，至 %s", v.ValidUntil)
	}
	if p := v.Project; p != nil {
		fmt.Fprintf(&b, "\n标段      %s（%s）\n招标人    %s", p.BiaoduanName, p.BiaoduanNo, p.Zbr)
	} else {
		b.WriteString("\n项目      开标前保密")
	}
	return b.String() + "\n"
}

// Summary is the verdict on a file in a few lines of text.
func (f *FileVerification) Summary() string {
	var b strings.Builder
	b.WriteString(f.Message + "\n")
	fmt.Fprintf(&b, "SM3 %s\n", f.SM3)
	for _, s := range f.Seals {
		ok := "有效"
		if !s.OK {
			ok = "无效: " + s.Failure
		}
		fmt.Fprintf(&b, "签章 %s %s\n", s.Signer, ok)
	}
	return b.String()
}

// Verified: the file is one the institution issued and its seals hold.
func (f *FileVerification) Verified() bool { return f.Issued && f.SealsOK }

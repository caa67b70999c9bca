package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// loadTrustRoots reads the PEM files of the CAs whose seal and bidder
// certificates are accepted.
func loadTrustRoots(files []string) (*smx509.CertPool, int, error) {
	if len(files) == 0 {
		return nil, 0, nil
	}
	pool := smx509.NewCertPool()
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, fmt.Errorf("trust root %s: %w", f, err)
		}
		certs, err := gm.ParseCertificates(b)
		if err != nil {
			return nil, 0, fmt.Errorf("trust root %s: %w", f, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
			n++
		}
	}
	return pool, n, nil
}

// sealVerdict is what the platform keeps of a seal verification.
type sealVerdict struct {
	OK      bool        `json:"ok"`
	Failure string      `json:"failure,omitempty"`
	Report  *ses.Report `json:"report,omitempty"`
}

// verifySeals verifies the seals of the OFD in blob against the trust
// roots. A document that is not an OFD, is not sealed or whose seals fail
// gives ok false and the failing check; err is for storage failures only.
// When the blob store gives an io.ReaderAt (a file), only the small
// entries are read into memory and the large ones hashed as a stream;
// otherwise the package is read into memory (within ofd.DefaultLimits).
func (s *Service) verifySeals(ctx context.Context, blob string, size int64) (ok bool, report json.RawMessage, failure string, err error) {
	if s.sealCheck != nil {
		return s.sealCheck(ctx, blob, size)
	}
	rc, err := s.blobs.Open(ctx, blob)
	if err != nil {
		return false, nil, "", err
	}
	defer rc.Close()
	var pkg *ofd.Package
	if ra, isRA := rc.(io.ReaderAt); isRA {
		// Large entries stay in the blob and are hashed as a stream.
		pkg, err = ofd.OpenReaderAtLazy(ra, size, ofd.DefaultLimits)
	} else {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(rc, ofd.DefaultLimits.MaxTotalSize+1))
		if err == nil {
			// The large entries are inflated only to be hashed, not
			// copied beside the zip bytes.
			pkg, err = ofd.OpenReaderAtLazy(bytes.NewReader(b), int64(len(b)), ofd.DefaultLimits)
		}
	}
	v := sealVerdict{}
	switch {
	case err != nil:
		v.Failure = fmt.Sprintf("the decrypted file is not an OFD package: %v", err)
	case s.roots == nil:
		v.Failure = "no trust roots are configured"
	default:
		v.Report, err = ses.VerifyPackage(pkg, s.roots)
		switch {
		case errors.Is(err, ses.ErrNotSigned):
			v.Failure = "the OFD carries no seal (GB/T 38540 signature)"
		case err != nil:
			v.Failure = err.Error()
		case !v.Report.OK():
			v.Failure = firstFailure(v.Report)
		default:
			v.OK = true
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false, nil, "", err
	}
	return v.OK, b, v.Failure, nil
}

// firstFailure describes the first failed check of a report.
func firstFailure(r *ses.Report) string {
	for _, sig := range r.Signatures {
		if c := sig.Failure(); c != nil {
			msg := fmt.Sprintf("signature %s by %q: check %s failed", sig.ID, sig.Signer, c.Name)
			if c.Entry != "" {
				msg += " on " + c.Entry
			}
			if c.Detail != "" {
				msg += ": " + c.Detail
			}
			return msg
		}
	}
	return "no signature verified"
}

package institution

import (
	"context"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// Project holds the four project fields of applydata (名单保密): ciphertext
// under the project key until the bid opening, plaintext after
// baohanrestore.
type Project struct {
	BiaoduanNo   string `json:"biaoduanno"`
	BiaoduanName string `json:"biaoduanname"`
	Zbr          string `json:"zbr"`
	ZbrOrgNum    string `json:"zbrorgnum,omitempty"`
	// BzjEndDate is the deposit deadline (投标截止时间) of the flat
	// revision: ciphertext in baohanapply, in the clear in baohanrestore
	// (whose value wins).
	BzjEndDate string `json:"bzjenddate,omitempty"`
}

// DocumentInput is what the agreement and the guarantee show.
type DocumentInput struct {
	ApplyNo      string
	BaohanNo     string // empty for the agreement
	BidderName   string
	BidderCode   string
	Bond         string // 保证金金额, 元
	Premium      string // 保费, 元
	Rate         string
	Product      string
	Terms        string
	Institution  Identity
	GenerateTime time.Time // 出函时间; the agreement's signing date
	KaibiaoTime  time.Time // 开标时间, known after baohanrestore
	Project      Project   // ciphertext or plaintext, per the document
}

// Documents makes and checks the OFD documents: the agreement the bidder
// signs, the sealed ciphertext guarantee (filetype 1) with the signed
// agreement attached, and the sealed plaintext guarantee (filetype 2)
// merged with the ciphertext one. The default is OFDDocuments.
type Documents interface {
	// Agreement is the unsigned 保函委托协议 for the bidder to sign.
	Agreement(ctx context.Context, in DocumentInput) ([]byte, error)
	// VerifyAgreement checks that signed is unsigned plus valid seals or
	// signatures by a certificate chaining to the trust roots, and returns
	// the signer's certificate.
	VerifyAgreement(ctx context.Context, signed, unsigned []byte) (*smx509.Certificate, error)
	// CipherGuarantee is the sealed ciphertext guarantee with the signed
	// agreement attached.
	CipherGuarantee(ctx context.Context, in DocumentInput, signedAgreement []byte) ([]byte, error)
	// PlainGuarantee is the plaintext guarantee merged with the ciphertext
	// one, sealed again.
	PlainGuarantee(ctx context.Context, in DocumentInput, cipherGuarantee []byte) ([]byte, error)
}

package ses

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// Seal types (SES_ESPropertyInfo.type). GB/T 38540 leaves the codes to the
// seal system; these are the common ones.
const (
	SealTypeOrganization = 1 // 单位印章
	SealTypePersonal     = 2 // 个人印章 (a person's or a party's signature seal)
)

// Seal is an electronic seal (SESeal, version 4): the seal information
// signed by the seal maker (制章者).
type Seal struct {
	Raw []byte // DER of the SESeal, exactly as signed or read

	ESID       string // 电子印章标识
	VID        string // vendor ID of the header
	Type       int
	Name       string
	Created    time.Time
	ValidStart time.Time
	ValidEnd   time.Time

	// CertListType 1: Holders are DER certificates; 2: SM3 digests.
	CertListType int
	Holders      [][]byte

	PictureType string // "PNG"
	Picture     []byte
	WidthMM     int
	HeightMM    int

	MakerCert *smx509.Certificate // SESeal.cert: who made and signed the seal

	rawSealInfo []byte
	signAlg     asn1.ObjectIdentifier
	signature   []byte
}

// SealSpec describes a seal to make.
type SealSpec struct {
	ESID       string                // unique seal ID; derived from the content when empty
	VID        string                // vendor ID in the header; default "baohan"
	Type       int                   // SealTypeOrganization or SealTypePersonal; default organization
	Name       string                // e.g. "某某担保有限公司电子公章"
	Holders    []*smx509.Certificate // certificates that may sign with the seal (certList type 1)
	Picture    []byte                // PNG; a blank 1×1 picture when nil (a signature with no visible mark)
	WidthMM    int                   // size of the picture on the page; default 40×40
	HeightMM   int
	Created    time.Time // default ValidStart
	ValidStart time.Time
	ValidEnd   time.Time
}

// MakeSeal makes and signs a seal. maker signs DER(SES_SealInfo) with SM2
// (user ID 1234567812345678); makerCert is its certificate, carried in the
// seal. The maker is a sealing authority, or the institution itself with
// its own certificate (then it is also the holder).
func MakeSeal(maker crypto.Signer, makerCert *smx509.Certificate, spec SealSpec) (*Seal, error) {
	if maker == nil || makerCert == nil {
		return nil, errors.New("ses: make seal: maker key and certificate are required")
	}
	if err := keyMatches(maker, makerCert); err != nil {
		return nil, fmt.Errorf("ses: make seal: %w", err)
	}
	if spec.Name == "" {
		return nil, errors.New("ses: make seal: name is required")
	}
	if len(spec.Holders) == 0 {
		return nil, errors.New("ses: make seal: at least one holder certificate is required")
	}
	if spec.ValidStart.IsZero() || spec.ValidEnd.IsZero() || !spec.ValidEnd.After(spec.ValidStart) {
		return nil, errors.New("ses: make seal: validity: ValidStart must be before ValidEnd")
	}
	if spec.VID == "" {
		spec.VID = "baohan"
	}
	if spec.Type == 0 {
		spec.Type = SealTypeOrganization
	}
	if spec.Created.IsZero() {
		spec.Created = spec.ValidStart
	}
	if spec.WidthMM <= 0 || spec.HeightMM <= 0 {
		spec.WidthMM, spec.HeightMM = 40, 40
	}
	if spec.Picture == nil {
		spec.Picture = blankPNG()
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(spec.Picture))
	if err != nil || format != "png" || cfg.Width == 0 || cfg.Height == 0 {
		return nil, fmt.Errorf("ses: make seal: picture is not a PNG image (%v)", err)
	}
	holders := make([][]byte, len(spec.Holders))
	for i, c := range spec.Holders {
		holders[i] = c.Raw
	}
	if spec.ESID == "" {
		h := sm3.New()
		h.Write(makerCert.Raw)
		h.Write([]byte(spec.Name))
		h.Write([]byte(spec.Created.UTC().Format(time.RFC3339)))
		for _, c := range holders {
			h.Write(c)
		}
		spec.ESID = hex.EncodeToString(h.Sum(nil)[:16])
	}
	info := mSealInfo{
		Header: mHeader{ID: "ES", Version: Version, VID: spec.VID},
		ESID:   spec.ESID,
		Property: mProperty{
			Type: spec.Type, Name: spec.Name, CertListType: 1, CertList: holders,
			CreateDate: utcSecond(spec.Created), ValidStart: utcSecond(spec.ValidStart), ValidEnd: utcSecond(spec.ValidEnd),
		},
		Picture: mPicture{Type: "PNG", Data: spec.Picture, Width: spec.WidthMM, Height: spec.HeightMM},
	}
	infoDER, err := asn1.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("ses: make seal: encoding SES_SealInfo: %w", err)
	}
	sig, err := sm2SignWith(maker, infoDER)
	if err != nil {
		return nil, fmt.Errorf("ses: make seal: signing SES_SealInfo: %w", err)
	}
	der, err := asn1.Marshal(mSESeal{
		ESealInfo:   asn1.RawValue{FullBytes: infoDER},
		Cert:        makerCert.Raw,
		SignAlgID:   OIDSM2WithSM3,
		SignedValue: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return nil, fmt.Errorf("ses: make seal: encoding SESeal: %w", err)
	}
	return ParseSeal(der)
}

// ParseSeal reads a DER SESeal of version 4. It does not verify it (see
// Seal.Verify).
func ParseSeal(der []byte) (*Seal, error) {
	var ps pSESeal
	rest, err := asn1.Unmarshal(der, &ps)
	if err != nil {
		return nil, fmt.Errorf("ses: SESeal: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("ses: SESeal: %d bytes after the structure", len(rest))
	}
	var pi pSealInfo
	rest, err = asn1.Unmarshal(ps.ESealInfo.FullBytes, &pi)
	if err != nil {
		return nil, fmt.Errorf("ses: SES_SealInfo: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("ses: SES_SealInfo: trailing bytes")
	}
	if pi.Header.ID != "ES" {
		return nil, fmt.Errorf("ses: SES_SealInfo header id %q, want \"ES\"", pi.Header.ID)
	}
	if pi.Header.Version != Version {
		return nil, fmt.Errorf("ses: seal version %d, only version 4 (GB/T 38540) is supported", pi.Header.Version)
	}
	s := &Seal{
		Raw:          ps.Raw,
		ESID:         pi.ESID,
		VID:          pi.Header.VID,
		Type:         pi.Property.Type,
		Name:         pi.Property.Name,
		Created:      pi.Property.CreateDate,
		ValidStart:   pi.Property.ValidStart,
		ValidEnd:     pi.Property.ValidEnd,
		CertListType: pi.Property.CertListType,
		PictureType:  pi.Picture.Type,
		Picture:      pi.Picture.Data,
		WidthMM:      pi.Picture.Width,
		HeightMM:     pi.Picture.Height,
		rawSealInfo:  pi.Raw,
		signAlg:      ps.SignAlgID,
		signature:    ps.SignedValue.RightAlign(),
	}
	switch pi.Property.CertListType {
	case 1:
		if _, err := asn1.Unmarshal(pi.Property.CertList.FullBytes, &s.Holders); err != nil {
			return nil, fmt.Errorf("ses: certList of certificates: %w", err)
		}
	case 2:
		var ds []certDigest
		if _, err := asn1.Unmarshal(pi.Property.CertList.FullBytes, &ds); err != nil {
			return nil, fmt.Errorf("ses: certList of digests: %w", err)
		}
		for _, d := range ds {
			s.Holders = append(s.Holders, d.Value)
		}
	default:
		return nil, fmt.Errorf("ses: certListType %d (want 1 or 2)", pi.Property.CertListType)
	}
	s.MakerCert, err = smx509.ParseCertificate(ps.Cert)
	if err != nil {
		return nil, fmt.Errorf("ses: seal maker certificate: %w", err)
	}
	return s, nil
}

// Verify checks the maker's SM2 signature over DER(SES_SealInfo), on the
// bytes as they are in the seal.
func (s *Seal) Verify() error {
	if !s.signAlg.Equal(OIDSM2WithSM3) {
		return fmt.Errorf("seal signature algorithm %v, want SM2 with SM3 (%v)", s.signAlg, OIDSM2WithSM3)
	}
	pub, ok := sm2Public(s.MakerCert)
	if !ok {
		return fmt.Errorf("seal maker certificate %q has no SM2 public key", s.MakerCert.Subject.CommonName)
	}
	if !gm.SM2Verify(pub, s.rawSealInfo, s.signature) {
		return fmt.Errorf("the seal maker's signature over SES_SealInfo does not verify with %q", s.MakerCert.Subject.CommonName)
	}
	return nil
}

// SealInfoDER is DER(SES_SealInfo) as signed, and Signature the maker's
// DER SM2 signature: for checking with other tools.
func (s *Seal) SealInfoDER() []byte { return s.rawSealInfo }

// Signature returns the maker's DER signature over SealInfoDER.
func (s *Seal) Signature() []byte { return s.signature }

// Holds reports whether cert may sign with the seal (it is in certList,
// by DER or, for certListType 2, by SM3 digest).
func (s *Seal) Holds(cert *smx509.Certificate) bool {
	for _, h := range s.Holders {
		if s.CertListType == 2 {
			sum := sm3.Sum(cert.Raw)
			if bytes.Equal(h, sum[:]) {
				return true
			}
			continue
		}
		if bytes.Equal(h, cert.Raw) {
			return true
		}
	}
	return false
}

// ValidAt reports whether t is inside the seal's validity.
func (s *Seal) ValidAt(t time.Time) bool {
	return !t.Before(s.ValidStart) && !t.After(s.ValidEnd)
}

func utcSecond(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func blankPNG() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{})
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// sm2SignWith signs msg with SM2 over SM3 and the default user ID.
func sm2SignWith(key crypto.Signer, msg []byte) ([]byte, error) {
	if k, ok := key.(*sm2.PrivateKey); ok {
		return gm.SM2Sign(k, msg)
	}
	return key.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
}

func keyMatches(key crypto.Signer, cert *smx509.Certificate) error {
	pub, ok := sm2Public(cert)
	if !ok {
		return fmt.Errorf("certificate %q has no SM2 public key", cert.Subject.CommonName)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	kp, ok := key.Public().(equaler)
	if !ok || !kp.Equal(pub) {
		return fmt.Errorf("the key does not match certificate %q", cert.Subject.CommonName)
	}
	return nil
}

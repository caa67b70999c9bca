package ses

import (
	"encoding/asn1"
	"time"
)

// The ASN.1 structures of GB/T 38540-2020 (SES version 4). The m* types
// are for writing (string types as the standard fixes them); the p* types
// read any ASN.1 string type and keep the raw bytes of what is signed, so
// that verification hashes exactly the bytes in the file.

var (
	// OIDSM2WithSM3 is the SM2 signature with SM3 (GM/T 0006).
	OIDSM2WithSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	// OIDSM3 is the SM3 hash.
	OIDSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
)

// Version is the SES version this package writes and reads.
const Version = 4

type mHeader struct {
	ID      string `asn1:"ia5"`
	Version int
	VID     string `asn1:"ia5"`
}

type mProperty struct {
	Type         int
	Name         string `asn1:"utf8"`
	CertListType int
	CertList     [][]byte
	CreateDate   time.Time `asn1:"generalized"`
	ValidStart   time.Time `asn1:"generalized"`
	ValidEnd     time.Time `asn1:"generalized"`
}

type mPicture struct {
	Type   string `asn1:"ia5"`
	Data   []byte
	Width  int
	Height int
}

type mSealInfo struct {
	Header   mHeader
	ESID     string `asn1:"ia5"`
	Property mProperty
	Picture  mPicture
}

type mSESeal struct {
	ESealInfo   asn1.RawValue
	Cert        []byte
	SignAlgID   asn1.ObjectIdentifier
	SignedValue asn1.BitString
}

type mTBSSign struct {
	Version      int
	ESeal        asn1.RawValue
	TimeInfo     time.Time `asn1:"generalized"`
	DataHash     asn1.BitString
	PropertyInfo string `asn1:"ia5"`
}

type mSESSignature struct {
	ToSign         asn1.RawValue
	Cert           []byte
	SignatureAlgID asn1.ObjectIdentifier
	Signature      asn1.BitString
}

type pHeader struct {
	ID      string
	Version int
	VID     string
}

type pProperty struct {
	Type         int
	Name         string
	CertListType int
	CertList     asn1.RawValue
	CreateDate   time.Time `asn1:"generalized"`
	ValidStart   time.Time `asn1:"generalized"`
	ValidEnd     time.Time `asn1:"generalized"`
}

type pPicture struct {
	Type   string
	Data   []byte
	Width  int
	Height int
}

type pSealInfo struct {
	Raw      asn1.RawContent
	Header   pHeader
	ESID     string
	Property pProperty
	Picture  pPicture
	ExtDatas asn1.RawValue `asn1:"optional"`
}

type pSESeal struct {
	Raw         asn1.RawContent
	ESealInfo   asn1.RawValue
	Cert        []byte
	SignAlgID   asn1.ObjectIdentifier
	SignedValue asn1.BitString
}

type pTBSSign struct {
	Raw          asn1.RawContent
	Version      int
	ESeal        asn1.RawValue
	TimeInfo     time.Time `asn1:"generalized"`
	DataHash     asn1.BitString
	PropertyInfo string
	ExtDatas     asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

type pSESSignature struct {
	ToSign         asn1.RawValue
	Cert           []byte
	SignatureAlgID asn1.ObjectIdentifier
	Signature      asn1.BitString
	TimeStamp      asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

// certDigest is an entry of a certList of type 2 (certificate digests).
type certDigest struct {
	Type  string
	Value []byte
}

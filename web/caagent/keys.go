package caagent

import (
	"encoding/pem"
	"fmt"
	"os"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
)

// LoadFiles reads the bidder's private key (PEM, PKCS#8 or SEC1) and
// certificate (PEM or DER) from disk, the stand-in for the USB key.
func LoadFiles(keyFile, certFile string) (*sm2.PrivateKey, *smx509.Certificate, error) {
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the key: %w", err)
	}
	key, err := gm.ParsePrivateKey(kb)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the certificate: %w", err)
	}
	cert, err := gm.ParseCertificate(cb)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return key, cert, nil
}

func certPEM(c *smx509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

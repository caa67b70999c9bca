package gm_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/baohan-dev/baohan/gm"
)

// The platform seals the bidder's application data for the bidder's
// certificate (baohanapply: applydata and digitalenvelope); the bidder's
// CA client opens it with the private key.
func ExampleSealEnvelope() {
	bidder, err := gm.GenerateKey()
	if err != nil {
		panic(err)
	}
	applyData := []byte(`{"biddername":"某某建设有限公司","bzjamount":"20000.00"}`)
	applydata, envelope, err := gm.SealEnvelope(&bidder.PublicKey, applyData, gm.C1C3C2)
	if err != nil {
		panic(err)
	}
	fmt.Println("digitalenvelope:", len(envelope), "base64 characters")

	opened, err := gm.OpenEnvelope(bidder, applydata, envelope, gm.C1C3C2)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(opened))

	// Another key does not open it, and says so.
	other, _ := gm.GenerateKey()
	_, err = gm.OpenEnvelope(other, applydata, envelope, gm.C1C3C2)
	fmt.Println(err != nil)
	// Output:
	// digitalenvelope: 152 base64 characters
	// {"biddername":"某某建设有限公司","bzjamount":"20000.00"}
	// true
}

// The institution encrypts the guarantee file for the key the platform
// gave for the application (downloadpublickey), uploads the ciphertext
// in chunks and sends the fields in baohanfilecompletenotice; the
// platform decrypts the joined chunks and checks the digest.
func ExampleEncryptFile() {
	ctx := context.Background()
	platform, err := gm.GenerateKey()
	if err != nil {
		panic(err)
	}
	guarantee := strings.Repeat("OFD bytes ", 100) // 1000 bytes

	var ciphertext bytes.Buffer
	f, err := gm.EncryptFile(ctx, &ciphertext, strings.NewReader(guarantee), &platform.PublicKey, gm.C1C3C2, gm.SM3)
	if err != nil {
		panic(err)
	}
	fmt.Println("ciphertext:", ciphertext.Len(), "bytes")
	fmt.Println("key and iv fields:", len(f.Key), len(f.IV), "base64 characters")
	fmt.Println("baohanfilemd5:", f.BaohanFileMD5)

	var plain bytes.Buffer
	if err := gm.DecryptFile(ctx, &plain, &ciphertext, platform, f, gm.C1C3C2); err != nil {
		panic(err)
	}
	fmt.Println(plain.String() == guarantee)
	// Output:
	// ciphertext: 1008 bytes
	// key and iv fields: 152 152 base64 characters
	// baohanfilemd5: 70ded7b38496e2de77cb0288f15de438e73b79f946d3fd579210205736254201
	// true
}

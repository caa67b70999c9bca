package institution

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// TestDecryptApplyData: a wrong key is named as such even when the
// noise it decrypts to happens to end in valid padding (about one wrong
// key in 256: TestBidderRefusals' all-zero key did so now and then
// against a fresh applydata).
func TestDecryptApplyData(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	plain, _ := json.Marshal(protocol.ApplyData{BidderName: "某某建设有限公司", BidderCode: "91110000600037341L",
		BiaoduanNo: "x", BiaoduanName: "x", BzjAmount: "1000", Zbr: "x", ZbrOrgNum: "x"})
	seal := func(pt []byte) *Application {
		ct, err := gm.SM4ECBEncrypt(key, pt)
		if err != nil {
			t.Fatal(err)
		}
		return &Application{ApplyNo: "D-1", applyData: base64.StdEncoding.EncodeToString(ct)}
	}
	a := seal(plain)
	ct, _ := gm.DecodeBase64(a.applyData)
	// The first wrong key (a counter) whose decryption has valid padding.
	var padded []byte
	for i := uint64(1); padded == nil; i++ {
		k := make([]byte, 16)
		binary.BigEndian.PutUint64(k[8:], i)
		if _, err := gm.SM4ECBDecrypt(k, ct); err == nil {
			padded = k
		}
	}
	const wrong = "the key does not open this application's applydata ("
	cases := []struct {
		name string
		app  *Application
		key  []byte
		want string // prefix of the refusal; "" for success
	}{
		{"the right key", a, key, ""},
		{"a short key", a, key[:3], "key: want the 16-byte SM4 key recovered from the digital envelope, got 3 bytes"},
		{"a wrong key, bad padding", a, make([]byte, 16), wrong},
		{"a wrong key, valid padding", a, padded, wrong + "decrypted, it is not JSON text)"},
		{"the right key, applydata not JSON", seal([]byte("not json at all")), key, wrong + "decrypted, it is not JSON text)"},
		{"the right key, JSON breaking the spec", seal([]byte(`{"bidderName":""}`)), key, "the decrypted applydata breaks the spec: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := decryptApplyData(c.app, c.key)
			if c.want == "" {
				if err != nil || d.BzjAmount != "1000" {
					t.Fatalf("got %+v, %v", d, err)
				}
				return
			}
			if err == nil || !baohan.IsRefusal(err) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal starting %q", err, c.want)
			}
		})
	}
}

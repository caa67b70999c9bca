package protocol_test

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/protocol"
)

// The sender signs the fields it sends: SM3 over the fields except sign
// and empty ones, sorted by key, then the appsecret.
func ExampleSign() {
	fields := map[string]string{
		"appkey":    "APPKEY-0001",
		"timestamp": "2026-11-27 10:00:00",
		"applyno":   "SQ202611270001",
		"remark":    "", // empty: not signed
	}
	fmt.Println(protocol.SignString(fields, "s3cret"))
	fields["sign"] = protocol.Sign(fields, "s3cret")
	fmt.Println(len(fields["sign"]), "hex characters")
	// Output:
	// appkey=APPKEY-0001&applyno=SQ202611270001&timestamp=2026-11-27 10:00:00&appsecret=s3cret
	// 64 hex characters
}

// The receiver verifies the sign on the request exactly as received; on a
// mismatch the result names the signing variant the sender used.
func ExampleVerify() {
	fields := map[string]string{"appkey": "APPKEY-0001", "applyno": "SQ202611270001", "timestamp": "2026-11-27 10:00:00"}
	fields["sign"] = protocol.Sign(fields, "s3cret")
	body := fmt.Sprintf(`{"appkey":%q,"applyno":%q,"timestamp":%q,"sign":%q}`,
		fields["appkey"], fields["applyno"], fields["timestamp"], fields["sign"])
	r, err := protocol.ParseRequest([]byte(body))
	if err != nil {
		panic(err)
	}
	fmt.Println(protocol.Verify(r, "s3cret").Diagnosis())

	// A sender that appended "&key=" instead of "&appsecret=".
	wrong := strings.Replace(protocol.SignString(fields, "s3cret"), "&appsecret=", "&key=", 1)
	sum := sm3.Sum([]byte(wrong))
	r.Fields["sign"] = hex.EncodeToString(sum[:])
	res := protocol.Verify(r, "s3cret")
	fmt.Println(res.OK, res.IDs)
	// Output:
	// sign ok
	// false [key]
}

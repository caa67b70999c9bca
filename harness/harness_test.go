package harness

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/protocol"
)

// TestPKIKeepsItsDirectory: a second NewPKI on the directory loads the
// same CA and identities (a demo directory keeps its certificates), and
// the identities carry the parties' credit codes.
func TestPKIKeepsItsDirectory(t *testing.T) {
	dir := t.TempDir()
	p := Parties{BidderCode: pki.GenerateCreditCode(), BidderFile: "bidder-main"}
	first, err := NewPKI(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewPKI(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.CA.CertPEM(), again.CA.CertPEM()) || !bytes.Equal(first.Bidder.CertPEM, again.Bidder.CertPEM) ||
		!bytes.Equal(first.Inst.CertPEM, again.Inst.CertPEM) {
		t.Error("a second NewPKI on the directory made new certificates")
	}
	for _, tc := range []struct {
		id   *pki.Identity
		want string
	}{{first.Bidder, p.BidderCode}, {first.Inst, InstCreditCode}, {again.Bidder, p.BidderCode}, {again.Inst, InstCreditCode}} {
		if got, err := pki.CreditCode(tc.id.Cert, pki.CreditCodeIn{}); err != nil || got != tc.want {
			t.Errorf("%s: credit code %q %v, want %q", tc.id.Cert.Subject.CommonName, got, err, tc.want)
		}
	}
	if again.Bidder.Name != BidderName {
		t.Errorf("bidder %q, want %q", again.Bidder.Name, BidderName)
	}
}

// TestDoorFaults: each fault answers as it says, the door records and
// tells its observers every exchange, and a door without a service
// answers 503.
func TestDoorFaults(t *testing.T) {
	d, err := NewDoor("platform")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var served int
	var mu sync.Mutex
	d.Set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		mu.Unlock()
		w.Write(protocol.OK(nil).Marshal())
	}))
	var seen []Exchange
	d.Subscribe(func(ex Exchange) {
		mu.Lock()
		seen = append(seen, ex)
		mu.Unlock()
	})
	tests := []struct {
		fault    Fault
		status   int // -1: the connection is cut
		code     int // -1: not a protocol answer
		isServed bool
	}{
		{Pass, 200, protocol.CodeOK, true},
		{HTTP500, 500, -1, false},
		{Garbage, 200, -1, false},
		{Code0, 200, protocol.CodeFail, false},
		{Unreachable, -1, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			mu.Lock()
			before := served
			mu.Unlock()
			d.Inject("baohannotice", tt.fault)
			res, err := http.Post(d.URL+"/baohannotice", "application/json", strings.NewReader(`{}`))
			status, code := -1, -1
			if err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				status = res.StatusCode
				if r, ok := Answer(b); ok {
					code = r.Code
				}
			}
			if status != tt.status || code != tt.code {
				t.Errorf("HTTP %d code %d, want HTTP %d code %d", status, code, tt.status, tt.code)
			}
			mu.Lock()
			if got := served > before; got != tt.isServed {
				t.Errorf("served %v, want %v", got, tt.isServed)
			}
			mu.Unlock()
		})
	}
	d.Set(nil)
	if res, err := http.Post(d.URL+"/baohannotice", "application/json", strings.NewReader(`{}`)); err != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no service: %v %v, want 503", res, err)
	}
	if n := d.Hits("baohannotice"); n != len(tests)+1 {
		t.Errorf("%d hits, want %d", n, len(tests)+1)
	}
	// The door records an exchange once its answer is written: the last
	// one may still be on its way when the client has read it.
	exs := d.Exchanges()
	for deadline := time.Now().Add(5 * time.Second); len(exs) < len(tests)+1 && time.Now().Before(deadline); exs = d.Exchanges() {
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	// Recorded as answered: in the order of arrival, as Wire has them.
	sortExchanges(exs)
	sortExchanges(seen)
	if len(exs) != len(tests)+1 || len(seen) != len(exs) {
		t.Fatalf("%d exchanges recorded, %d observed, want %d", len(exs), len(seen), len(tests)+1)
	}
	for i, tt := range tests {
		if exs[i].Fault != tt.fault || exs[i].Door != "platform" || exs[i].Path != "/baohannotice" || seen[i].Fault != tt.fault {
			t.Errorf("exchange %d: %+v, want fault %s", i, exs[i], tt.fault)
		}
	}
}

// TestFakePeerChecksTheSign: the fake peer answers code 1 to a request
// signed with its secret and refuses another appkey or sign.
func TestFakePeerChecksTheSign(t *testing.T) {
	f, err := StartFakePeer("bank", "bank-key", "bank-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body := func(appkey, secret string) []byte {
		fields := map[string]string{"applyno": "BH1", "appkey": appkey, "timestamp": protocol.FormatTime(time.Now())}
		fields[protocol.SignField] = protocol.Sign(fields, secret)
		return protocol.MarshalFields(fields)
	}
	for _, tt := range []struct {
		name, appkey, secret string
		want                 int
	}{
		{"signed", "bank-key", "bank-secret-0123456789", protocol.CodeOK},
		{"another appkey", "other-key", "bank-secret-0123456789", protocol.CodeFail},
		{"another secret", "bank-key", "not-the-secret", protocol.CodeFail},
	} {
		res, err := http.Post(f.URL()+"/claimsnotice", "application/json", bytes.NewReader(body(tt.appkey, tt.secret)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if r, ok := Answer(b); !ok || r.Code != tt.want {
			t.Errorf("%s: %s, want code %d", tt.name, b, tt.want)
		}
	}
	if c := f.Counts(); c.Calls != 3 || c.Refused != 2 {
		t.Errorf("counts %+v, want 3 calls, 2 refused", c)
	}
}

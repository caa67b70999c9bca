package reliability

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store/storetest"
)

// TestConcurrentDuplicates: the same step done many times at once (a
// bidder double-clicking, a peer retrying in parallel, two replicas) is
// applied once. Eight bidder requests at once for open, sign and pay;
// eight baohannotices at once with different baohannos, on SQLite and
// PostgreSQL: one wins, the others are refused naming the winner, and
// each history holds the step once.
func TestConcurrentDuplicates(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			o := []harness.Option{harness.Quiet(), harness.WithPlatformPeer(func(p *config.Peer) { p.RateLimit = -1 })}
			if db == "postgres" {
				o = append(o, harness.WithPlatformDB(storetest.FreshSchema(t)))
				o = append(o, harness.WithInstitutionDB(storetest.FreshSchema(t)))
			}
			s := harness.Start(t, o...)
			ctx := context.Background()

			// The bidder, eight times at once per step.
			applyNo := s.Apply(s.Section(time.Hour).No)
			base := s.InstDoor.URL + "/bidder/" + s.Token(applyNo, 10*time.Second)
			var v institution.BidderView
			call(t, "GET", base, nil, &v)
			ct, _ := base64.StdEncoding.DecodeString(v.DigitalEnvelope)
			key, err := gm.SM2Decrypt(s.PKI.Bidder.Key, ct, gm.C1C3C2)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(institution.OpenRequest{Key: base64.StdEncoding.EncodeToString(key)})
			together(8, func(int) { call(t, "POST", base+"/open", body, nil) })
			var agreement []byte
			call(t, "GET", base+"/agreement", nil, &agreement)
			b := s.PKI.Bidder
			seal, _ := ses.MakeSeal(b.Key, b.Cert, ses.SealSpec{Type: ses.SealTypePersonal, Name: b.Name,
				Holders: []*smx509.Certificate{b.Cert}, ValidStart: b.Cert.NotBefore, ValidEnd: b.Cert.NotAfter})
			signed, err := ses.Sign(agreement, ses.Signer{Key: b.Key, Cert: b.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			together(8, func(int) { call(t, "POST", base+"/agreement", signed, nil) })
			together(8, func(int) { call(t, "POST", base+"/pay", []byte(`{}`), nil) })
			s.WaitPlat(applyNo, "cipher_received", 30*time.Second)
			s.WaitInst(applyNo, institution.Issued, 30*time.Second)
			ie, _ := harness.InstitutionEvents(ctx, s.Inst.DB(), applyNo)
			if want := harness.InstitutionHappyEvents[:8]; !slices.Equal(ie, want) {
				t.Errorf("institution history %v, want %v", ie, want)
			}
			var payments int
			s.Inst.DB().QueryRow(s.Inst.DB().Rebind(`SELECT COUNT(*) FROM outbox WHERE interface = 'baohannotice' AND applyno = ?`), applyNo).Scan(&payments)
			if payments != 1 {
				t.Errorf("%d baohannotices queued for one application", payments)
			}

			// Eight different baohannotices at once, as a peer gone wrong.
			for round := 0; round < 3; round++ {
				applyNo := s.Apply(s.Section(time.Hour).No)
				s.Token(applyNo, 10*time.Second)
				var accepted atomic.Int32
				together(8, func(i int) {
					p := s.AsInstitution()
					r, err := p.Client.Call(ctx, p.Target, protocol.BaohanNotice, map[string]string{"applyno": applyNo,
						"baohanno": fmt.Sprintf("HX-%d-%d", round, i), "instname": harness.InstitutionName,
						"generatetime": protocol.FormatTime(s.Clock.Now()), "rate": "0.005", "cost": "4000.00", "applystatus": "1",
						"timestamp": protocol.FormatTime(s.Clock.Now().Add(-time.Duration(i) * time.Second))})
					if err != nil {
						t.Error(err)
						return
					}
					if r.Code == 1 {
						accepted.Add(1)
					}
				})
				pe, _ := harness.PlatformEvents(ctx, s.Plat.DB(), applyNo)
				if accepted.Load() != 1 || !slices.Equal(pe, []string{"apply", "apply_accepted", "approved"}) {
					t.Errorf("round %d: %d notices accepted, history %v", round, accepted.Load(), pe)
				}
			}
			// Concurrent appends kept both message-log chains whole.
			for _, p := range []string{harness.ChainProblem(ctx, s.Plat.DB(), "platform"), harness.ChainProblem(ctx, s.Inst.DB(), "institution")} {
				if p != "" {
					t.Error(p)
				}
			}
		})
	}
}

// together runs f n times at once.
func together(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; f(i) }()
	}
	close(start)
	wg.Wait()
}

func call(t *testing.T, method, url string, body []byte, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 500 {
		t.Errorf("%s %s: HTTP %d %.200s", method, url, res.StatusCode, b)
	}
	if out == nil {
		return
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return
	}
	json.Unmarshal(b, out)
}

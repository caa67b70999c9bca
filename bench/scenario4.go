package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// Scenario 4: the bid deadline at an institution. The platform forwards
// bidders' applications (baohanapply, with applydata sealed for the
// bidder and its digital envelope) from Clients connections at once; each
// is stored durably and answered with the bidder's redirecturl. The
// ceiling is the bare parse-and-verify handler, as in scenario 1.

// Targets of scenario 4 (those of scenario 1: the same kind of request).
const (
	S4MinRatio = S1MinRatio
	S4MaxP99   = S1MaxP99
)

// ApplyFields returns the fields of a baohanapply for applyNo: applydata
// with the four project fields encrypted under projectKey, the whole
// sealed under a fresh key, and that key SM2-encrypted for the bidder
// (digitalenvelope).
func ApplyFields(applyNo string, bidderName, bidderCode string, bidder *ecdsa.PublicKey, projectKey []byte) (map[string]string, error) {
	enc := func(s string) string {
		v, err := gm.EncryptField(projectKey, s)
		if err != nil {
			panic(err) // a 16-byte key cannot fail
		}
		return v
	}
	d := protocol.ApplyData{BidderName: bidderName, BidderCode: bidderCode, BzjAmount: "200000.00",
		BiaoduanNo: enc("S4-2026-0001"), BiaoduanName: enc("某某市政道路改造工程施工第一标段"),
		Zbr: enc("某某市城市建设投资有限公司"), ZbrOrgNum: enc("91330100MA2CTY0020")}
	var buf bytes.Buffer
	je := json.NewEncoder(&buf)
	je.SetEscapeHTML(false)
	if err := je.Encode(d); err != nil {
		return nil, err
	}
	applydata, envelope, err := gm.SealEnvelope(bidder, bytes.TrimSpace(buf.Bytes()), gm.C1C3C2)
	if err != nil {
		return nil, err
	}
	return map[string]string{"platformcode": "BENCH", "applyno": applyNo, "applydata": applydata, "digitalenvelope": envelope}, nil
}

func (r *runner) scenario4(ctx context.Context, db string) ([]Row, error) {
	o := r.o
	label := "s4-" + db
	row := Row{Scenario: 4, Name: fmt.Sprintf("baohanapply into the institution, %d clients", o.Clients), DB: db, Unit: "req/s"}
	r.logf("%s: starting the institution", label)
	env, err := StartInstitution(ctx, InstitutionOptions{Dir: r.workDir(label), DB: db, PostgresURL: o.PostgresURL})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	warm := min(max(o.Applies/10, o.Clients), 2000)
	total := warm + o.Applies
	r.logf("%s: sealing %d applications (applydata + digital envelope)", label, total)
	bidder := env.PKI.Bidder
	pub := &bidder.Key.PublicKey
	projectKey := gm.NewKey()
	now := env.Clock.Now()
	bodies := make([][]byte, total)
	for i := range bodies {
		f, err := ApplyFields(platform.NewApplyNo(now), bidder.Name, bidder.CreditCode, pub, projectKey)
		if err != nil {
			return nil, err
		}
		bodies[i] = env.Body(f)
	}
	secrets := map[string]string{env.Peer.AppKey: env.Peer.AppSecret}

	r.logf("%s: ceiling (parse + verify only) with %d clients", label, o.Clients)
	var ceil *Stats
	if err := r.timed(label+"-ceiling", func() error {
		var err error
		ceil, err = VerifyCeiling(ctx, secrets, string(protocol.BaohanApply), bodies, Load{Clients: o.Clients, Count: total})
		return err
	}); err != nil {
		return nil, err
	}
	r.logf("%s: ceiling %s", label, ceil)
	ref, err := r.durableReference(ctx, label, db, secrets, protocol.BaohanApply, bodies, total)
	if err != nil {
		return nil, err
	}

	p := NewPoster(o.Clients)
	defer p.Close()
	url := env.URL(protocol.BaohanApply)
	post := func(off int) Op {
		return func(ctx context.Context, _, i int) error {
			resp, err := p.Post(ctx, url, bodies[off+i])
			if err != nil {
				return err
			}
			var res protocol.ApplyResult
			if err := json.Unmarshal(resp.Data, &res); err != nil || res.RedirectURL == "" {
				return fmt.Errorf("answer without redirecturl: %s", resp.Data)
			}
			return nil
		}
	}
	st, err := r.measureLoad(ctx, label, "applications", o.Clients, warm, o.Applies, post, ceil, &row)
	if err != nil {
		return nil, err
	}
	var stored int
	if err := env.Svc.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM inst_applications`).Scan(&stored); err != nil {
		row.note("counting stored applications: %v", err)
	} else {
		row.check("every answered application stored", stored == total-st.Errors, "%d stored of %d sent (%d errors)", stored, total, st.Errors)
	}
	row.note("ceiling p50 %s, p99 %s", fmtDur(ceil.P50()), fmtDur(ceil.P99()))
	row.setDurableRef(ref)
	row.Target = fmt.Sprintf("≥%.0f%% of durable ref, p99<%s", S4MinRatio*100, S4MaxP99)
	row.Pass = row.refRatio() >= S4MinRatio && row.P99 < S4MaxP99 && st.Errors == 0 && row.checksOK()
	return []Row{row}, nil
}

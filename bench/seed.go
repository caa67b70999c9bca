package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// The grown platform (`baohan bench --seed N`): N applications written
// straight into the platform's tables as three years of a province's
// traffic would have left them — sections, bidders, applications in every
// state of the lifecycle, each with its state history, the message log
// of its exchanges (chained, so that `baohan audit verify` checks it),
// the outbox rows of its outbound calls (delivered), and its guarantee
// files' rows referring to blobs in the blob store.

// SeedCounts is what SeedHistory wrote.
type SeedCounts struct {
	Applications, Events, Messages, Outbox, Guarantees, Sections, Bidders int
	Took                                                                  time.Duration
}

func (c SeedCounts) String() string {
	return fmt.Sprintf("%d applications, %d history events, %d message log entries, %d outbox rows, %d guarantee files, %d sections, %d bidders in %s",
		c.Applications, c.Events, c.Messages, c.Outbox, c.Guarantees, c.Sections, c.Bidders, c.Took.Round(time.Millisecond))
}

// Seeding's shape.
const (
	seedYears       = 3
	seedPerSection  = 40                  // applications per section
	seedPerBidder   = 25                  // applications per bidder, on average
	seedOpenAfter   = 15 * 24 * time.Hour // a section opens this long after its first application
	seedTxApps      = 2000                // applications per transaction
	seedBlobs       = 8                   // distinct guarantee files in the blob store
	seedBlobSize    = 64 << 10
	seedUploadBytes = 2 << 10 // the request body kept for an uploadbaohanfile exchange
)

// seedFinal is the share of each state among applications whose section
// has opened, seedOpen among those whose section has not (in thousandths).
var (
	seedFinal = []weighted{{platform.Restored, 520}, {platform.PlainReceived, 90}, {platform.InvoiceRequested, 10},
		{platform.Invoiced, 170}, {platform.Rejected, 60}, {platform.Quit, 50}, {platform.Cancelled, 40},
		{platform.Claimed, 10}, {platform.GivenUp, 30}, {platform.QuitRequested, 5}, {platform.CipherReceived, 15}}
	seedOpen = []weighted{{platform.Applied, 250}, {platform.Approved, 250}, {platform.CipherReceived, 400},
		{platform.Rejected, 50}, {platform.QuitRequested, 20}, {platform.Quit, 20}, {platform.GivenUp, 10}}
)

type weighted struct {
	st platform.State
	w  int
}

func pick(r *rand.Rand, ws []weighted) platform.State {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.st
		}
		n -= w.w
	}
	return ws[0].st
}

// seedStep is one event of an application's history and the exchange it
// came with (interface "" for none).
type seedStep struct {
	ev    platform.Event
	to    platform.State
	dir   string // "in" | "out"
	iface protocol.Interface
}

// seedPath returns the events that lead an application to st, in order,
// each a legal move of the platform's state machine.
func seedPath(st platform.State) []seedStep {
	applied := []seedStep{{platform.EvApply, platform.Applied, "", ""}, {platform.EvApplyAccepted, platform.Applied, "out", protocol.BaohanApply}}
	approved := append(slices.Clone(applied), seedStep{platform.EvApproved, platform.Approved, "in", protocol.BaohanNotice})
	cipher := append(slices.Clone(approved), seedStep{platform.EvCipherReceived, platform.CipherReceived, "in", protocol.BaohanFileCompleteNotice})
	restored := append(slices.Clone(cipher), seedStep{platform.EvRestored, platform.Restored, "out", protocol.BaohanRestore})
	plain := append(slices.Clone(restored), seedStep{platform.EvPlainReceived, platform.PlainReceived, "in", protocol.BaohanFileCompleteNotice})
	invReq := append(slices.Clone(plain), seedStep{platform.EvInvoiceRequested, platform.InvoiceRequested, "", ""},
		seedStep{platform.EvInvoiceAccepted, platform.InvoiceRequested, "out", protocol.InvoiceApply})
	invoiced := append(slices.Clone(invReq), seedStep{platform.EvInvoiced, platform.Invoiced, "in", protocol.InvoiceNotice})
	quitReq := append(slices.Clone(cipher), seedStep{platform.EvQuitRequested, platform.QuitRequested, "", ""},
		seedStep{platform.EvQuitAccepted, platform.QuitRequested, "out", protocol.QuitApply})
	switch st {
	case platform.Applied:
		return applied
	case platform.Approved:
		return approved
	case platform.Rejected:
		return append(applied, seedStep{platform.EvRejected, platform.Rejected, "in", protocol.BaohanNotice})
	case platform.GivenUp:
		return append(applied, seedStep{platform.EvGiveupRequested, platform.Applied, "", ""},
			seedStep{platform.EvGivenUp, platform.GivenUp, "out", protocol.GiveupApply})
	case platform.CipherReceived:
		return cipher
	case platform.Restored:
		return restored
	case platform.PlainReceived:
		return plain
	case platform.InvoiceRequested:
		return invReq
	case platform.Invoiced:
		return invoiced
	case platform.QuitRequested:
		return quitReq
	case platform.Quit:
		return append(quitReq, seedStep{platform.EvQuit, platform.Quit, "in", protocol.QuitNotice})
	case platform.Cancelled:
		return append(plain, seedStep{platform.EvCancelRequested, platform.PlainReceived, "", ""},
			seedStep{platform.EvCancelled, platform.Cancelled, "out", protocol.CancelNotice})
	case platform.Claimed:
		return append(invoiced, seedStep{platform.EvClaimRequested, platform.Invoiced, "", ""},
			seedStep{platform.EvClaimed, platform.Claimed, "out", protocol.ClaimsNotice})
	}
	return applied
}

// bulkInsert gathers rows of one table and inserts them many per
// statement.
type bulkInsert struct {
	tx    *sql.Tx
	db    *store.DB
	head  string
	row   string
	per   int
	n     int
	args  []any
	total *int
}

func newBulk(tx *sql.Tx, db *store.DB, table string, total *int, cols ...string) *bulkInsert {
	return &bulkInsert{tx: tx, db: db, total: total,
		head: "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ",
		row:  "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")",
		// SQLite binds at most 32,766 parameters to a statement.
		per: min(1000, 30000/len(cols))}
}

// add queues a row; flush writes the queued rows (rows of one table
// refer to the rows of the tables flushed before it).
func (b *bulkInsert) add(_ context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	b.n++
	return nil
}

func (b *bulkInsert) flush(ctx context.Context) error {
	cols := len(b.args) / max(b.n, 1)
	for lo := 0; lo < b.n; lo += b.per {
		k := min(b.per, b.n-lo)
		var q strings.Builder
		q.WriteString(b.head)
		for i := range k {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(b.row)
		}
		if _, err := b.tx.ExecContext(ctx, b.db.Rebind(q.String()), b.args[lo*cols:(lo+k)*cols]...); err != nil {
			return fmt.Errorf("seeding: %s…: %w", b.head[:min(len(b.head), 40)], err)
		}
	}
	*b.total += b.n
	b.n, b.args = 0, b.args[:0]
	return nil
}

// SeedHistory writes n applications with their histories into the
// platform's database, ending now (the environment's clock): sections of
// seedPerSection applications opening seedOpenAfter after their first,
// the applications of the sections not yet open in the states before the
// opening, the others spread over the lifecycle. Bulk inserts, a few
// thousand applications per transaction; progress, when set, gets the
// number written after each. Deterministic for a given n and clock.
func (e *PlatformEnv) SeedHistory(ctx context.Context, n int, progress func(done int)) (SeedCounts, error) {
	start := time.Now()
	var c SeedCounts
	db := e.DB
	now := e.Clock.Now()
	r := rand.New(rand.NewPCG(uint64(n), 17))
	from := now.AddDate(-seedYears, 0, 0)
	span := now.Sub(from)

	// The guarantee files: a few real blobs every row refers to.
	blobKeys := make([]string, seedBlobs)
	blobSM3 := make([]string, seedBlobs)
	for i := range blobKeys {
		data := bytes.Repeat([]byte(fmt.Sprintf("%%OFD bench guarantee %d ", i)), seedBlobSize/24)
		blobKeys[i] = fmt.Sprintf("platform/guarantee/bench-seed/%d", i)
		_, sum, err := e.Svc.Blobs().Put(ctx, blobKeys[i], bytes.NewReader(data))
		if err != nil {
			return c, fmt.Errorf("seeding blobs: %w", err)
		}
		blobSM3[i] = sum
	}

	// Bidders: the PKI's (who can log in) and synthetic ones sharing its
	// certificate.
	b := e.PKI.Bidder
	if _, err := e.Svc.RegisterBidder(ctx, platform.BidderInput{Name: b.Name, CreditCode: b.CreditCode, CertPEM: string(b.CertPEM)}); err != nil {
		return c, err
	}
	bidders := []string{b.CreditCode}
	nb := max(n/seedPerBidder, 1)
	at := now.UnixMicro()
	if err := db.InTx(ctx, func(tx *sql.Tx) error {
		bi := newBulk(tx, db, "plat_bidders", &c.Bidders, "credit_code", "name", "cert_pem", "cert_subject", "cert_not_after", "created_at", "updated_at")
		for j := range nb {
			code := fmt.Sprintf("91330100%010d", j)
			bidders = append(bidders, code)
			if err := bi.add(ctx, code, fmt.Sprintf("某某建设工程有限公司%d", j), string(b.CertPEM), "CN=bench", now.AddDate(1, 0, 0).UnixMicro(), at, at); err != nil {
				return err
			}
		}
		return bi.flush(ctx)
	}); err != nil {
		return c, err
	}
	c.Bidders++

	insts := e.Insts
	secret := func(i int) (string, string) { return e.Peers[i].AppKey, e.Peers[i].AppSecret }
	log := e.Svc.MessageLog()
	for lo := 0; lo < n; lo += seedTxApps {
		hi := min(lo+seedTxApps, n)
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			secs := newBulk(tx, db, "plat_sections", &c.Sections, "section_no", "name", "tenderer", "tenderer_code", "bond_amount", "kaibiao_at", "key_sealed", "created_at", "updated_at")
			apps := newBulk(tx, db, "plat_applications", &c.Applications, "applyno", "section_no", "bidder_code", "institution", "product", "rate", "bond_amount",
				"state", "version", "baohanno", "notice", "notice_at", "key_sealed", "key_released_at", "created_at", "updated_at")
			evs := newBulk(tx, db, "plat_application_events", &c.Events, "applyno", "seq", "at", "event", "from_state", "to_state", "actor", "detail")
			outs := newBulk(tx, db, "outbox", &c.Outbox, "peer", "interface", "applyno", "dedupe_key", "fields", "state", "attempts", "next_attempt_at", "created_at", "delivered_at")
			gs := newBulk(tx, db, "plat_guarantees", &c.Guarantees, "applyno", "filetype", "baohanno", "digest", "digest_alg", "sm3", "size", "blob", "chunks", "seals_ok", "report", "received_at")
			var entries []*store.LogEntry
			for i := lo; i < hi; i++ {
				created := from.Add(time.Duration(float64(span) * float64(i) / float64(n)))
				si := i / seedPerSection
				sectionStart := from.Add(time.Duration(float64(span) * float64(si*seedPerSection) / float64(n)))
				secNo := fmt.Sprintf("ZB%s-%06d", sectionStart.Format("2006"), si)
				kaibiao := sectionStart.Add(seedOpenAfter)
				bond := fmt.Sprintf("%d0000.00", 5+si%40)
				if i%seedPerSection == 0 {
					if err := secs.add(ctx, secNo, "某某市政道路改造工程施工"+secNo+"标段", "某某市城市建设投资有限公司", "91330100MA2CTY0020", bond,
						kaibiao.UnixMicro(), "", sectionStart.UnixMicro(), sectionStart.UnixMicro()); err != nil {
						return err
					}
				}
				st := pick(r, seedFinal)
				if kaibiao.After(now) {
					st = pick(r, seedOpen)
				}
				applyNo := platform.NewApplyNo(created)
				ii := i % len(insts)
				inst := insts[ii].Name
				path := seedPath(st)
				baohanNo, notice, noticeAt := "", "", int64(0)
				t := created
				steps := make([]time.Time, len(path))
				for k, s := range path {
					switch s.ev {
					case platform.EvRestored:
						t = kaibiao.Add(time.Duration(r.IntN(60)) * time.Second)
					case platform.EvApply:
					default:
						t = t.Add(time.Duration(30+r.IntN(3600)) * time.Second)
					}
					steps[k] = t
					if s.ev == platform.EvApproved {
						baohanNo = fmt.Sprintf("BH%s%08d", created.Format("2006"), i)
						nb, err := json.Marshal(platform.Notice{BaohanNo: baohanNo, InstName: "某某融资担保有限公司",
							GenerateTime: protocol.FormatTime(t), Rate: "0.005", Cost: "1000.00", ApplyStatus: "1", ReceivedAt: t})
						if err != nil {
							return err
						}
						notice, noticeAt = string(nb), t.UnixMicro()
					}
				}
				updated := t
				released := int64(0)
				if !kaibiao.After(now) && slices.ContainsFunc(path, func(s seedStep) bool { return s.ev == platform.EvRestored }) {
					released = kaibiao.UnixMicro()
				}
				sealed, err := e.MK.Seal(seedKey(r), "baohan/platform/project-key/"+applyNo)
				if err != nil {
					return err
				}
				bidder := bidders[r.IntN(len(bidders))]
				if err := apps.add(ctx, applyNo, secNo, bidder, inst, Product, "0.005", bond,
					string(st), int64(len(path)), baohanNo, notice, noticeAt, sealed, released, created.UnixMicro(), updated.UnixMicro()); err != nil {
					return err
				}
				prev := platform.None
				for k, s := range path {
					actor := "institution:" + inst
					switch {
					case s.ev == platform.EvApply:
						actor = "bidder:" + bidder
					case strings.HasSuffix(string(s.ev), "_requested"):
						actor = "admin"
					case s.dir == "out":
						actor = "outbox"
					}
					if err := evs.add(ctx, applyNo, int64(k+1), steps[k].UnixMicro(), string(s.ev), string(prev), string(s.to), actor, ""); err != nil {
						return err
					}
					prev = s.to
					if s.iface == "" {
						continue
					}
					fields := map[string]string{"applyno": applyNo}
					if baohanNo != "" && s.iface != protocol.BaohanApply {
						fields["baohanno"] = baohanNo
					}
					appKey, sec := secret(ii)
					if s.dir == "out" {
						// The platform signs its calls with the same appkey and secret.
						dedupe := fmt.Sprintf("%s:%s:%d", s.iface, applyNo, k)
						fb, err := json.Marshal(fields)
						if err != nil {
							return err
						}
						if err := outs.add(ctx, inst, string(s.iface), applyNo, dedupe, string(fb), "done", 1,
							steps[k].UnixMicro(), steps[k].UnixMicro(), steps[k].UnixMicro()); err != nil {
							return err
						}
					}
					if s.iface == protocol.BaohanFileCompleteNotice {
						// The file's one chunk came first.
						up := map[string]string{"applyno": applyNo, "baohanno": baohanNo, "filetype": "1", "index": "1",
							"chunk": strings.Repeat("A", seedUploadBytes)}
						if s.ev == platform.EvPlainReceived {
							up["filetype"] = "2"
						}
						entries = append(entries, seedEntry(steps[k].Add(-time.Second), "in", protocol.UploadBaohanFile, inst, applyNo, baohanNo,
							SignedBody(up, appKey, sec, steps[k])))
						ft := 1
						if s.ev == platform.EvPlainReceived {
							ft = 2
						}
						bk := r.IntN(seedBlobs)
						if err := gs.add(ctx, applyNo, ft, baohanNo, blobSM3[bk], "sm3", blobSM3[bk], int64(seedBlobSize), blobKeys[bk], 1, 1,
							`{"seals":[{"ok":true}]}`, steps[k].UnixMicro()); err != nil {
							return err
						}
					}
					entries = append(entries, seedEntry(steps[k], s.dir, s.iface, inst, applyNo, baohanNo, SignedBody(fields, appKey, sec, steps[k])))
				}
			}
			for _, b := range []*bulkInsert{secs, apps, evs, outs, gs} {
				if err := b.flush(ctx); err != nil {
					return err
				}
			}
			// The log in the order the exchanges happened.
			slices.SortStableFunc(entries, func(a, b *store.LogEntry) int { return a.At.Compare(b.At) })
			for k := 0; k < len(entries); k += 1000 {
				part := entries[k:min(k+1000, len(entries))]
				if err := log.AppendTx(ctx, tx, part); err != nil {
					return err
				}
				c.Messages += len(part)
			}
			return nil
		})
		if err != nil {
			return c, err
		}
		if progress != nil {
			progress(hi)
		}
	}
	c.Took = time.Since(start)
	return c, nil
}

func seedKey(r *rand.Rand) []byte {
	k := make([]byte, 16)
	for i := range k {
		k[i] = byte(r.UintN(256))
	}
	return k
}

func seedEntry(at time.Time, dir string, iface protocol.Interface, peer, applyNo, baohanNo string, body []byte) *store.LogEntry {
	return &store.LogEntry{At: at, Direction: dir, Interface: string(iface), Peer: peer, ApplyNo: applyNo, BaohanNo: baohanNo,
		Request: body, Response: []byte(`{"code":1,"message":"成功","data":{}}`), HTTPStatus: 200, Code: 1, SignOK: true, LatencyMS: 12}
}

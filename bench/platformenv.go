package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// PlatformOptions configure StartPlatform.
type PlatformOptions struct {
	Dir          string // work directory (SQLite file, blobs, master key, log)
	DB           string // SQLite (default) or Postgres
	PostgresURL  string // default PostgresURL()
	Institutions int    // fake institutions (default 1)
	// CallTimeout is the platform's timeout for calls to the institutions
	// (0: the default of config.Peer, 30s).
	CallTimeout time.Duration
	// Workers is the outbox's concurrent deliveries (0: the platform's
	// default).
	Workers int
	// PollInterval is the outbox's idle poll (0: the platform's default).
	PollInterval time.Duration
	// AdminToken, when set, opens the admin API (/api/) to this bearer
	// token.
	AdminToken string
	PKI        *PKI           // default: made in Dir
	Logger     *slog.Logger   // default: warnings to Dir/platform.log
	Clock      *harness.Clock // default: a new clock
	// Fake, if set, configures fake institution i before it starts.
	Fake func(i int, f *harness.FakePeer)
}

// PlatformEnv is the platform started alone by the harness (bare door on
// 127.0.0.1) with its background work running, fake institutions it
// calls, and the institutions' peers for signing requests to it.
type PlatformEnv struct {
	Clock   *harness.Clock
	PKI     *PKI
	Sys     *harness.System
	Svc     *platform.Service
	DB      *store.DB
	BaseURL string // the platform's base URL
	Insts   []*harness.FakePeer
	Peers   []*transport.Peer // institution i's appkey and secret, as the platform knows them
	Kind    string            // SQLite or Postgres
	// MK is the platform's master key (seeded applications get their
	// project keys sealed with it, as Apply does).
	MK *gm.MasterKey

	cleanup []func()
}

// Product is the one product every benchmark institution sells.
const Product = "投标保函"

// StartPlatform starts the platform.
func StartPlatform(ctx context.Context, o PlatformOptions) (e *PlatformEnv, err error) {
	if err := checkDir(o.Dir); err != nil {
		return nil, err
	}
	e = &PlatformEnv{Clock: o.Clock, PKI: o.PKI, Kind: o.DB}
	if e.Kind == "" {
		e.Kind = SQLite
	}
	defer func() {
		if err != nil {
			e.Close()
			e = nil
		}
	}()
	if e.Clock == nil {
		e.Clock = &harness.Clock{}
	}
	if e.PKI == nil {
		if e.PKI, err = NewPKI(filepath.Join(o.Dir, "pki")); err != nil {
			return e, err
		}
	}
	logger := o.Logger
	if logger == nil {
		logger, err = fileLogger(filepath.Join(o.Dir, "platform.log"), e)
		if err != nil {
			return e, err
		}
	}
	dbURL, cleanup, err := newDatabase(ctx, e.Kind, o.PostgresURL, o.Dir, "platform")
	if err != nil {
		return e, err
	}
	e.cleanup = append(e.cleanup, cleanup)

	n := max(o.Institutions, 1)
	var insts []platform.Institution
	for i := range n {
		name := "bank" + strconv.Itoa(i+1)
		secret := randomHex(16)
		fi := harness.NewFakePeer(name, "bench-"+name, secret)
		if o.Fake != nil {
			o.Fake(i, fi)
		}
		if err := fi.Start(); err != nil {
			return e, err
		}
		e.Insts = append(e.Insts, fi)
		insts = append(insts, platform.Institution{
			Peer: config.Peer{Name: name, AppKey: fi.AppKey, AppSecret: secret, BaseURL: fi.URL(),
				PlatformCode: "BENCH", Timeout: config.Duration{Duration: o.CallTimeout},
				// The peak is what is measured: no per-appkey rate limit.
				RateLimit: -1},
			Products: []platform.Product{{Name: Product, Rate: decimal.RequireFromString("0.005")}},
			// Every institution seals with the PKI's institution.
			SealCreditCode: e.PKI.Inst.CreditCode,
		})
	}
	for _, in := range insts {
		p, err := in.Transport()
		if err != nil {
			return e, err
		}
		e.Peers = append(e.Peers, p)
	}
	masterKey := filepath.Join(o.Dir, "master.key")
	e.Sys, err = harness.NewSide(ctx, harness.PlatformSide, e.Insts[0].URL(), harness.WithDir(o.Dir), harness.WithPKI(e.PKI.PKI),
		harness.WithClock(e.Clock), harness.WithLogger(logger), harness.WithBareDoors(), harness.WithBackoff(nil),
		harness.WithPlatformConfig(func(c *platform.Config) {
			c.Admin = config.Admin{Token: o.AdminToken}
			c.Storage = config.Storage{DB: dbURL, DataDir: o.Dir, MasterKeyFile: masterKey}
			c.Outbox = config.Outbox{Workers: o.Workers, Poll: config.Duration{Duration: o.PollInterval}}
			c.Institutions = insts
		}))
	if err != nil {
		return e, err
	}
	e.Svc, e.DB, e.BaseURL = e.Sys.Plat, e.Sys.Plat.DB(), e.Sys.PlatformURL()
	// The key platform.New loaded (or made): the environment's, else the file.
	if e.MK, err = gm.LoadMasterKey(os.Getenv(service.MasterKeyEnv), masterKey); err != nil {
		return e, err
	}
	return e, nil
}

// fileLogger logs warnings and errors to path.
func fileLogger(path string, e interface{ addCleanup(func()) }) (*slog.Logger, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	e.addCleanup(func() { f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn})), nil
}

func (e *PlatformEnv) addCleanup(f func()) { e.cleanup = append(e.cleanup, f) }

// Close stops everything and drops the PostgreSQL schema.
func (e *PlatformEnv) Close() error {
	if e.Sys != nil {
		e.Sys.Close()
	}
	for _, fi := range e.Insts {
		fi.Close()
	}
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
	e.cleanup = nil
	return nil
}

// URL is where the platform serves interface i.
func (e *PlatformEnv) URL(i protocol.Interface) string { return e.BaseURL + "/" + string(i) }

// Body is a request of institution inst to the platform, signed now.
func (e *PlatformEnv) Body(inst int, fields map[string]string) []byte {
	p := e.Peers[inst]
	return SignedBody(fields, p.AppKey, p.AppSecret, e.Clock.Now())
}

// Section registers a section opening at kaibiao, and the PKI's bidder.
func (e *PlatformEnv) Section(ctx context.Context, no string, kaibiao time.Time) (*platform.Section, error) {
	sec, err := e.Svc.RegisterSection(ctx, platform.SectionInput{
		No: no, Name: "某某市政道路改造工程施工" + no + "标段", Tenderer: "某某市城市建设投资有限公司",
		TendererCode: "91330100MA2CTY0020", BondAmount: decimal.RequireFromString("200000.00"), KaibiaoTime: kaibiao,
	})
	if err != nil {
		return nil, err
	}
	b := e.PKI.Bidder
	if _, err := e.Svc.RegisterBidder(ctx, platform.BidderInput{Name: b.Name, CreditCode: b.CreditCode, CertPEM: string(b.CertPEM)}); err != nil {
		return nil, err
	}
	return sec, nil
}

// SeedApp is an application written directly into the platform's
// database (setup, not timed).
type SeedApp struct {
	ApplyNo  string
	Inst     int // index into Insts/Peers
	State    platform.State
	BaohanNo string // with the notice that gave it, when set
}

// Seed writes apps for the section (bidder: the PKI's) into the
// platform's tables in one transaction, as Apply, baohannotice and
// baohanfilecompletenotice would have left them; with restores, it also
// enqueues each one's baohanrestore due at the section's opening, as the
// platform does when a ciphertext guarantee arrives.
func (e *PlatformEnv) Seed(ctx context.Context, sec *platform.Section, apps []SeedApp, restores bool) error {
	now := e.Clock.Now()
	at := now.UnixMicro()
	const batch = 200
	return e.DB.InTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(apps); start += batch {
			part := apps[start:min(start+batch, len(apps))]
			var (
				rows, evs []string
				args      []any
				evArgs    []any
			)
			for _, a := range part {
				notice, noticeAt := "", int64(0)
				if a.BaohanNo != "" {
					b, err := json.Marshal(platform.Notice{BaohanNo: a.BaohanNo, InstName: "某某融资担保有限公司",
						GenerateTime: protocol.FormatTime(now), Rate: "0.005", Cost: "1000.00", ApplyStatus: "1", ReceivedAt: now})
					if err != nil {
						return err
					}
					notice, noticeAt = string(b), at
				}
				// Each application has a project key of its own, sealed
				// as Apply seals it (the context is the platform's).
				key := gm.NewKey()
				sealed, err := e.MK.Seal(key, "baohan/platform/project-key/"+a.ApplyNo)
				if err != nil {
					return err
				}
				rows = append(rows, "(?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)")
				args = append(args, a.ApplyNo, sec.No, e.PKI.Bidder.CreditCode, e.Insts[a.Inst].Name, Product, "0.005",
					sec.BondAmount.StringFixed(2), string(a.State), a.BaohanNo, notice, noticeAt, sealed, at, at)
				evs = append(evs, "(?, 1, ?, 'bench_seeded', '', ?, 'bench', '')")
				evArgs = append(evArgs, a.ApplyNo, at, string(a.State))
			}
			if _, err := tx.ExecContext(ctx, e.DB.Rebind(`INSERT INTO plat_applications
				(applyno, section_no, bidder_code, institution, product, rate, bond_amount, state, version,
				 baohanno, notice, notice_at, key_sealed, created_at, updated_at) VALUES `+strings.Join(rows, ", ")), args...); err != nil {
				return fmt.Errorf("seeding applications: %w", err)
			}
			if _, err := tx.ExecContext(ctx, e.DB.Rebind(`INSERT INTO plat_application_events
				(applyno, seq, at, event, from_state, to_state, actor, detail) VALUES `+strings.Join(evs, ", ")), evArgs...); err != nil {
				return fmt.Errorf("seeding application events: %w", err)
			}
			if !restores {
				continue
			}
			for _, a := range part {
				if err := store.Enqueue(ctx, tx, e.DB.Dialect, store.OutMessage{
					Peer: e.Insts[a.Inst].Name, Interface: string(protocol.BaohanRestore), ApplyNo: a.ApplyNo,
					DedupeKey: fmt.Sprintf("baohanrestore:%s:%d:1", a.ApplyNo, sec.KaibiaoTime.UnixMicro()),
					Fields:    map[string]string{"applyno": a.ApplyNo},
				}, sec.KaibiaoTime); err != nil {
					return fmt.Errorf("seeding restores: %w", err)
				}
			}
		}
		return nil
	})
}

// CountState counts the section's applications in state st.
func (e *PlatformEnv) CountState(ctx context.Context, section string, st platform.State) (int, error) {
	var n int
	err := e.DB.QueryRowContext(ctx, e.DB.Rebind(`SELECT COUNT(*) FROM plat_applications WHERE section_no = ? AND state = ?`),
		section, string(st)).Scan(&n)
	return n, err
}

// OutboxBacklog counts the outbox messages not done (any state but done).
func (e *PlatformEnv) OutboxBacklog(ctx context.Context) (map[string]int, error) {
	rows, err := e.DB.QueryContext(ctx, `SELECT state, COUNT(*) FROM outbox WHERE state <> 'done' GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

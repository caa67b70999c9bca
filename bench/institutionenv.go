package bench

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// InstitutionOptions configure StartInstitution.
type InstitutionOptions struct {
	Dir         string
	DB          string // SQLite (default) or Postgres
	PostgresURL string
	PKI         *PKI         // default: made in Dir
	Logger      *slog.Logger // default: warnings to Dir/institution.log
	Clock       *harness.Clock
}

// InstitutionEnv is the institution started alone by the harness (bare
// door on 127.0.0.1) with its background work running, and the platform
// peer that calls it.
type InstitutionEnv struct {
	Clock   *harness.Clock
	PKI     *PKI
	Sys     *harness.System
	Svc     *institution.Service
	BaseURL string          // the institution's base URL
	Peer    *transport.Peer // the platform: appkey, secret, platformcode
	Fake    *harness.FakePeer

	cleanup []func()
}

func (e *InstitutionEnv) addCleanup(f func()) { e.cleanup = append(e.cleanup, f) }

// StartInstitution starts the institution.
func StartInstitution(ctx context.Context, o InstitutionOptions) (e *InstitutionEnv, err error) {
	if err := checkDir(o.Dir); err != nil {
		return nil, err
	}
	e = &InstitutionEnv{Clock: o.Clock, PKI: o.PKI}
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
		if logger, err = fileLogger(filepath.Join(o.Dir, "institution.log"), e); err != nil {
			return e, err
		}
	}
	dbURL, cleanup, err := newDatabase(ctx, o.DB, o.PostgresURL, o.Dir, "institution")
	if err != nil {
		return e, err
	}
	e.addCleanup(cleanup)
	// The platform it calls back (baohannotice, uploads): a fake that
	// answers code 1; scenario 4 sends no calls there.
	secret := randomHex(16)
	if e.Fake, err = harness.StartFakePeer("platform", "bench-platform", secret); err != nil {
		return e, err
	}
	peer := config.Peer{Name: "platform", AppKey: "bench-platform", AppSecret: secret, BaseURL: e.Fake.URL(),
		PlatformCode: "BENCH", RateLimit: -1}
	if e.Peer, err = peer.Transport(); err != nil {
		return e, err
	}
	e.Sys, err = harness.NewSide(ctx, harness.InstitutionSide, e.Fake.URL(), harness.WithDir(o.Dir), harness.WithPKI(e.PKI.PKI),
		harness.WithClock(e.Clock), harness.WithLogger(logger), harness.WithBareDoors(),
		harness.WithInstitutionConfig(func(c *institution.Config) {
			c.Admin = config.Admin{}
			c.Storage = config.Storage{DB: dbURL, DataDir: o.Dir, MasterKeyFile: filepath.Join(o.Dir, "master.key")}
			c.Outbox = config.Outbox{}
			c.Institution = institution.Identity{Name: "某某融资担保有限公司", CreditCode: e.PKI.Inst.CreditCode,
				SealCert: e.PKI.InstCertFile(), SealKey: e.PKI.InstKeyFile(), Prefix: "BENCH"}
			c.Underwrite = institution.Underwriting{Mode: institution.ModeAuto}
			c.Invoicing = institution.Invoicing{Mode: institution.ModeAuto}
			c.Products = []institution.Product{{Name: Product, Rate: "0.005", MinPremium: "100"}}
			c.Platforms = []institution.Platform{{Peer: peer}}
		}))
	if err != nil {
		return e, err
	}
	e.Svc, e.BaseURL = e.Sys.Inst, e.Sys.InstitutionURL()
	return e, nil
}

// URL is where the institution serves interface i.
func (e *InstitutionEnv) URL(i protocol.Interface) string {
	return e.BaseURL + "/" + string(i)
}

// Body is a request of the platform to the institution, signed now.
func (e *InstitutionEnv) Body(fields map[string]string) []byte {
	return SignedBody(fields, e.Peer.AppKey, e.Peer.AppSecret, e.Clock.Now())
}

// Close stops everything.
func (e *InstitutionEnv) Close() error {
	if e.Sys != nil {
		e.Sys.Close()
	}
	if e.Fake != nil {
		e.Fake.Close()
	}
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
	e.cleanup = nil
	return nil
}

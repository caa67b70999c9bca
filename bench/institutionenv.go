package bench

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/baohan-dev/baohan/config"
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
	Clock       *Clock
}

// InstitutionEnv is the institution (institution.New) served on
// 127.0.0.1 with its background work running, and the platform peer
// that calls it.
type InstitutionEnv struct {
	Clock *Clock
	PKI   *PKI
	Svc   *institution.Service
	Srv   *LocalServer
	Peer  *transport.Peer // the platform: appkey, secret, platformcode
	Fake  *FakeInstitution

	stop    context.CancelFunc
	done    chan error
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
		e.Clock = &Clock{}
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
	if e.Fake, err = StartFakeInstitution("platform", "bench-platform", secret); err != nil {
		return e, err
	}
	peer := config.Peer{Name: "platform", AppKey: "bench-platform", AppSecret: secret, BaseURL: e.Fake.URL(),
		PlatformCode: "BENCH", RateLimit: -1}
	if e.Peer, err = peer.Transport(); err != nil {
		return e, err
	}
	cfg := institution.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true, PublicURL: "http://127.0.0.1:8090"},
			Storage:    config.Storage{DB: dbURL, DataDir: o.Dir, MasterKeyFile: filepath.Join(o.Dir, "master.key")},
			TrustRoots: []string{e.PKI.CAFile},
		},
		Institution: institution.Identity{Name: "某某融资担保有限公司", CreditCode: e.PKI.Inst.CreditCode,
			SealCert: e.PKI.InstCertFile(), SealKey: e.PKI.InstKeyFile(), Prefix: "BENCH"},
		Underwrite: institution.Underwriting{Mode: institution.ModeAuto},
		Invoicing:  institution.Invoicing{Mode: institution.ModeAuto},
		Products:   []institution.Product{{Name: Product, Rate: "0.005", MinPremium: "100"}},
		Platforms:  []institution.Platform{{Peer: peer}},
	}
	svc, err := institution.New(ctx, cfg, institution.WithClock(e.Clock.Now), institution.WithLogger(logger))
	if err != nil {
		return e, err
	}
	e.Svc = svc
	if e.Srv, err = ServeLocal(svc.Handler()); err != nil {
		return e, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stop, e.done = cancel, make(chan error, 1)
	go func() { e.done <- svc.Run(rctx) }()
	return e, nil
}

// URL is where the institution serves interface i.
func (e *InstitutionEnv) URL(i protocol.Interface) string {
	return e.Srv.URL + "/" + string(i)
}

// Body is a request of the platform to the institution, signed now.
func (e *InstitutionEnv) Body(fields map[string]string) []byte {
	return SignedBody(fields, e.Peer.AppKey, e.Peer.AppSecret, e.Clock.Now())
}

// Close stops everything.
func (e *InstitutionEnv) Close() error {
	if e.stop != nil {
		e.stop()
		<-e.done
		e.stop = nil
	}
	if e.Srv != nil {
		e.Srv.Close()
	}
	if e.Svc != nil {
		e.Svc.Close()
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

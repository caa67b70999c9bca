package harness

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"

	"github.com/baohan-dev/baohan/web"
)

// Which is one of the two services.
type Which int

// The services.
const (
	PlatformSide Which = iota
	InstitutionSide
)

// NewSide starts one service alone, facing another party's
// implementation of the other side at peerURL (the conformance kit, a
// fault proxy, an integrator's system): the platform (Plat, PlatDoor) or
// the institution (Inst, InstDoor); the other door is not there. Close
// stops it.
func NewSide(ctx context.Context, which Which, peerURL string, opts ...Option) (*System, error) {
	return build(append(opts, WithoutBidder()), func(s *System) error { return s.startSide(ctx, which, peerURL) })
}

func (s *System) startSide(ctx context.Context, which Which, peerURL string) (err error) {
	o := s.o
	door := &s.PlatDoor
	if which == InstitutionSide {
		door = &s.InstDoor
	}
	if *door, err = NewTLSDoor([]string{"platform", "institution"}[which], o.tls); err != nil {
		return err
	}
	(*door).Bare, (*door).Forget = o.bare, o.forget
	s.PlatCfg, s.InstCfg = s.configs(peerURL)
	if which == PlatformSide {
		return s.startPlatform(ctx)
	}
	return s.startInstitution(ctx)
}

// open applies the options and makes the directory, the clock, the PKI
// and the HTTP client; on an error it removes what it made.
func open(opts []Option) (*System, error) {
	o := defaultOptions()
	for _, fn := range opts {
		fn(&o)
	}
	o.parties = o.parties.withDefaults()
	s := &System{Dir: o.dir, Parties: o.parties, Clock: o.clock, PlatLog: &LogBuffer{}, InstLog: &LogBuffer{},
		Accounts: map[string][]web.Account{}, o: o}
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *System) prepare() (err error) {
	s.ownDir = s.o.ownDir
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "baohan-"); err != nil {
			return err
		}
		s.ownDir = true
	} else if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	if s.Clock == nil {
		s.Clock = &Clock{}
	}
	s.HTTP = http.DefaultClient
	if s.o.tls != nil {
		s.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.o.tlsRoots}}}
	}
	if s.PKI = s.o.pki; s.PKI == nil {
		s.PKI, err = NewPKIWith(filepath.Join(s.Dir, "ca"), s.o.ca, s.o.parties)
	}
	return err
}

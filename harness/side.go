package harness

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
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
func NewSide(ctx context.Context, which Which, peerURL string, opts ...Option) (s *System, err error) {
	o := defaultOptions()
	for _, fn := range opts {
		fn(&o)
	}
	o.parties = o.parties.withDefaults()
	o.noBidder = true
	s = &System{Dir: o.dir, Parties: o.parties, Clock: o.clock, PlatLog: &LogBuffer{}, InstLog: &LogBuffer{}, o: o}
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	if s.PKI == nil {
		if s.PKI, err = NewPKIWith(filepath.Join(s.Dir, "ca"), o.ca, o.parties); err != nil {
			return s, err
		}
	}
	door := &s.PlatDoor
	if which == InstitutionSide {
		door = &s.InstDoor
	}
	if *door, err = NewTLSDoor([]string{"platform", "institution"}[which], o.tls); err != nil {
		return s, err
	}
	(*door).Bare = o.bare
	s.PlatCfg, s.InstCfg = s.configs(peerURL)
	if which == PlatformSide {
		return s, s.startPlatform(ctx)
	}
	return s, s.startInstitution(ctx)
}

// prepare makes the directory, the clock and the HTTP client.
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
	s.PKI = s.o.pki
	s.HTTP = http.DefaultClient
	if s.o.tls != nil {
		s.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.o.tlsRoots}}}
	}
	return nil
}

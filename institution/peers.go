package institution

import (
	"context"
	"fmt"
	"time"

	"github.com/baohan-dev/baohan/transport"
)

// platformPeer is one configured platform with its transport form.
type platformPeer struct {
	cfg     Platform
	peer    *transport.Peer
	timeout time.Duration
}

// peerSet is the configured platforms: the transport.PeerDirectory of the
// inbound pipeline and the address book of the outbox.
type peerSet struct {
	byKey  map[string]*platformPeer
	byName map[string]*platformPeer
}

// newPeerSet pairs the configured platforms with their transport form
// (service.Core.Peers, by name).
func newPeerSet(ps []Platform, tps map[string]*transport.Peer) (*peerSet, error) {
	s := &peerSet{byKey: map[string]*platformPeer{}, byName: map[string]*platformPeer{}}
	for _, p := range ps {
		tp, ok := tps[p.Name]
		if !ok {
			return nil, fmt.Errorf("platform %q has no transport peer", p.Name)
		}
		pp := &platformPeer{cfg: p, peer: tp, timeout: p.CallTimeout()}
		s.byKey[p.AppKey] = pp
		s.byName[p.Name] = pp
	}
	return s, nil
}

// PeerByAppKey implements transport.PeerDirectory. An unknown appkey is
// (nil, nil): the pipeline answers "unknown appkey".
func (s *peerSet) PeerByAppKey(_ context.Context, appkey string) (*transport.Peer, error) {
	if p, ok := s.byKey[appkey]; ok {
		return p.peer, nil
	}
	return nil, nil
}

// byPeer returns the platform of a transport peer (by name).
func (s *peerSet) named(name string) (*platformPeer, error) {
	p, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("platform %q is not configured (any more)", name)
	}
	return p, nil
}

// Platforms returns the configured platform names.
func (s *peerSet) names() []string {
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	return out
}

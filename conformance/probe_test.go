package conformance

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// TestProbe: against a baohan pipeline configured for each sign variant,
// as a platform and as an institution, the probe finds the side and the
// variant, and the block it prints configures them.
func TestProbe(t *testing.T) {
	unknown := func(context.Context, *transport.Peer, *protocol.Request) (any, error) {
		return nil, baohan.Refusef("applyno is unknown")
	}
	for _, side := range []protocol.Side{protocol.Platform, protocol.Institution} {
		for _, v := range protocol.SignVariants {
			t.Run(string(side)+"/"+v.String(), func(t *testing.T) {
				peer := &transport.Peer{Name: "peer", AppKey: "K", AppSecret: "S", Profile: transport.DefaultProfile()}
				peer.Profile.Sign = v
				srv := &transport.Server{Peers: transport.NewStaticPeers(peer)}
				if side == protocol.Platform {
					srv.Handle(protocol.DownloadPublicKey, unknown)
				} else {
					srv.Handle(protocol.GiveupNotice, unknown)
				}
				hs := httptest.NewServer(srv)
				defer hs.Close()
				rep, err := Probe(context.Background(), ProbeConfig{URL: hs.URL, AppKey: "K", AppSecret: "S"})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Side != side {
					t.Fatalf("side %s", rep.Side)
				}
				sign := rep.Findings[0]
				if sign.Key != "sign" || sign.Value != v.String() || !sign.Known {
					t.Fatalf("sign finding %+v", sign)
				}
				block := rep.Block()
				table := "[[platform]]"
				if side == protocol.Institution {
					table = "[[institution]]"
				}
				for _, want := range []string{table, `sign = "` + v.String() + `"`, `encoding = "base64"`, `sm2_layout = "auto"`, `appkey = "K"`} {
					if !strings.Contains(block, want) {
						t.Errorf("the block lacks %s:\n%s", want, block)
					}
				}
				if strings.Contains(block, `"S"`) {
					t.Errorf("the block shows the appsecret:\n%s", block)
				}
			})
		}
	}
	// Nothing accepted: a wrong secret.
	peer := &transport.Peer{Name: "peer", AppKey: "K", AppSecret: "S", Profile: transport.DefaultProfile()}
	srv := &transport.Server{Peers: transport.NewStaticPeers(peer)}
	srv.Handle(protocol.DownloadPublicKey, unknown)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	rep, err := Probe(context.Background(), ProbeConfig{URL: hs.URL, AppKey: "K", AppSecret: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Findings[0]; f.Value != "" || f.Known || !strings.Contains(f.Evidence, "no variant was accepted") {
		t.Errorf("wrong secret: %+v", f)
	}
	if !strings.Contains(rep.Block(), "# sign = ?") {
		t.Errorf("block:\n%s", rep.Block())
	}
}

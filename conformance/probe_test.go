package conformance

import (
	"context"
	"io"
	"net/http"
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

// TestProbeRevision: an institution's revision is read from its refusal
// of an empty baohanapply, which never reaches its handler; a peer that
// accepts one is reported, and a platform's revision is not guessed.
func TestProbeRevision(t *testing.T) {
	for _, rev := range []protocol.Revision{protocol.RevisionEnvelope, protocol.RevisionFlat} {
		t.Run(string(rev), func(t *testing.T) {
			peer := &transport.Peer{Name: "peer", AppKey: "K", AppSecret: "S", Profile: transport.DefaultProfile()}
			peer.Profile.Revision = rev
			srv := &transport.Server{Peers: transport.NewStaticPeers(peer)}
			srv.Handle(protocol.GiveupNotice, func(context.Context, *transport.Peer, *protocol.Request) (any, error) {
				return nil, baohan.Refusef("applyno is unknown")
			})
			applied := 0
			srv.Handle(protocol.BaohanApply, func(context.Context, *transport.Peer, *protocol.Request) (any, error) {
				applied++
				return nil, nil
			})
			hs := httptest.NewServer(srv)
			defer hs.Close()
			rep, err := Probe(context.Background(), ProbeConfig{URL: hs.URL, AppKey: "K", AppSecret: "S", PlatformCode: "P1"})
			if err != nil {
				t.Fatal(err)
			}
			f := rep.Findings[len(rep.Findings)-1]
			if f.Key != "revision" || f.Value != string(rev) || !f.Known {
				t.Errorf("revision finding %+v", f)
			}
			if applied != 0 {
				t.Errorf("the probe's baohanapply reached the handler %d times", applied)
			}
			if want := `revision = "` + string(rev) + `"`; !strings.Contains(rep.Block(), want) {
				t.Errorf("the block lacks %s:\n%s", want, rep.Block())
			}
		})
	}
	t.Run("accepts an empty application", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/giveupnotice", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"code":0,"message":"applyno is unknown","data":{}}`)
		})
		mux.HandleFunc("/baohanapply", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"code":1,"message":"ok","data":{}}`)
		})
		hs := httptest.NewServer(mux)
		defer hs.Close()
		rep, err := Probe(context.Background(), ProbeConfig{URL: hs.URL, AppKey: "K", AppSecret: "S", Side: protocol.Institution})
		if err != nil {
			t.Fatal(err)
		}
		if f := rep.Findings[len(rep.Findings)-1]; f.Known || !strings.Contains(f.Evidence, "ACCEPTED") {
			t.Errorf("revision finding %+v", f)
		}
	})
	t.Run("platform", func(t *testing.T) {
		peer := &transport.Peer{Name: "peer", AppKey: "K", AppSecret: "S", Profile: transport.DefaultProfile()}
		srv := &transport.Server{Peers: transport.NewStaticPeers(peer)}
		srv.Handle(protocol.DownloadPublicKey, func(context.Context, *transport.Peer, *protocol.Request) (any, error) {
			return nil, baohan.Refusef("applyno is unknown")
		})
		hs := httptest.NewServer(srv)
		defer hs.Close()
		rep, err := Probe(context.Background(), ProbeConfig{URL: hs.URL, AppKey: "K", AppSecret: "S"})
		if err != nil {
			t.Fatal(err)
		}
		if f := rep.Findings[len(rep.Findings)-1]; f.Key != "revision" || f.Known || f.Value != "envelope" {
			t.Errorf("revision finding %+v", f)
		}
	})
}

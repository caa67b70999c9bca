package config

import (
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// The dialect keys reach the transport profile; bad values are refused
// at start, naming the key.
func TestPeerDialectKeys(t *testing.T) {
	base := Peer{Name: "p", AppKey: "k", AppSecret: "s"}
	tp, err := base.Transport()
	if err != nil {
		t.Fatal(err)
	}
	if p := tp.Profile; p.Sign != protocol.SignSM3 || p.Encoding != gm.Base64 || p.SM2Layout != gm.C1C3C2 || p.FileDigest != gm.SM3 ||
		p.DigestOver != gm.OverPlaintext || p.MaxChunkSize != 8<<20 || p.ChunkSize != 512<<10 {
		t.Fatalf("defaults: %+v", p)
	}
	set := base
	set.Sign, set.Encoding, set.SM2Layout, set.FileDigest, set.MaxChunkSize = "hmac-sm3", "hex", "auto", "md5-ciphertext", 1<<20
	tp, err = set.Transport()
	if err != nil {
		t.Fatal(err)
	}
	if p := tp.Profile; p.Sign != protocol.SignHMACSM3 || p.Encoding != gm.Hex || p.SM2Layout != gm.AutoLayout || p.FileDigest != gm.MD5 ||
		p.DigestOver != gm.OverCiphertext || p.MaxChunkSize != 1<<20 {
		t.Fatalf("set: %+v", p)
	}
	for _, tt := range []struct {
		edit func(*Peer)
		want string
	}{
		{func(p *Peer) { p.Sign = "sha256" }, "sign: unknown sign variant"},
		{func(p *Peer) { p.Encoding = "base32" }, "encoding: gm: unknown encoding"},
		{func(p *Peer) { p.SM2Layout = "c2c1c3" }, "sm2_layout:"},
		{func(p *Peer) { p.FileDigest = "sha256-ciphertext" }, "file_digest:"},
		{func(p *Peer) { p.MaxChunkSize = 100 }, "max_chunk_size must be between"},
		{func(p *Peer) { p.ChunkSize, p.MaxChunkSize = 4096, 2048 }, "chunk_size 4096 is larger than max_chunk_size 2048"},
	} {
		p := base
		tt.edit(&p)
		if _, err := p.Transport(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", p, err, tt.want)
		}
	}
}

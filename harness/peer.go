package harness

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/chunk"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// Peer plays one side by hand against the other: the tests use it to
// send what a hostile (but authenticated) peer would.
type Peer struct {
	S      *System
	Client *transport.Client
	Target *transport.Peer
}

// AsInstitution calls the platform as the institution would.
func (s *System) AsInstitution() *Peer {
	return &Peer{S: s, Client: &transport.Client{Now: s.Clock.Now, HTTP: s.HTTP},
		Target: &transport.Peer{Name: "platform", AppKey: s.Parties.AppKey, AppSecret: s.Parties.AppSecret, BaseURL: s.PlatDoor.URL}}
}

// AsPlatform calls the institution as the platform would.
func (s *System) AsPlatform() *Peer {
	return &Peer{S: s, Client: &transport.Client{Now: s.Clock.Now, HTTP: s.HTTP},
		Target: &transport.Peer{Name: "institution", AppKey: s.Parties.AppKey, AppSecret: s.Parties.AppSecret, BaseURL: s.InstDoor.URL}}
}

// Call sends i with fields (platformcode added for the institution's
// interfaces) and returns the answer.
func (p *Peer) Call(i protocol.Interface, fields map[string]string) (*protocol.Response, error) {
	f := map[string]string{}
	for k, v := range fields {
		f[k] = v
	}
	if i.ServedBy() == protocol.Institution && f["platformcode"] == "" && i != protocol.GiveupApply {
		f["platformcode"] = p.S.Parties.PlatformCode
	}
	r, err := p.Client.Call(context.Background(), p.Target, i, f)
	p.S.Clock.Advance(time.Second) // a fresh timestamp (and sign) for the next call
	if err == nil {
		p.S.FullMessage(r, p.Target.BaseURL == p.S.PlatDoor.URL)
	}
	return r, err
}

// FullMessage replaces an answer's message clipped to the spec's 100
// characters with the whole of it from the message log of the service
// that answered (the platform when toPlatform), so that tests read what
// it said.
func (s *System) FullMessage(r *protocol.Response, toPlatform bool) {
	s.T.Helper()
	if r.Code != 0 || !strings.HasSuffix(r.Message, "…") {
		return
	}
	if n := len([]rune(r.Message)); n > protocol.MaxMessage {
		s.T.Fatalf("an answer's message of %d characters: %s", n, r.Message)
	}
	prefix := strings.TrimSuffix(r.Message, "…")
	messages := s.Inst.Messages
	if toPlatform {
		messages = s.Plat.Messages
	}
	no := false
	for range 200 {
		es, err := messages(context.Background(), store.LogFilter{Direction: "in", OK: &no, Limit: 5})
		if err != nil {
			s.T.Fatal(err)
		}
		for _, x := range es {
			if strings.HasPrefix(x.Error, prefix) {
				r.Message = x.Error
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.T.Fatalf("the message log has no refusal starting %q", prefix)
}

// ApplyFields builds a baohanapply for the system's bidder as a platform
// would: the project fields under projectKey, applydata under a fresh
// key, that key SM2-wrapped for the bidder's certificate.
func (s *System) ApplyFields(applyNo string, projectKey []byte) (map[string]string, error) {
	enc := func(v string) string {
		c, err := gm.EncryptField(projectKey, v)
		if err != nil {
			panic(err)
		}
		return c
	}
	d, _ := json.Marshal(protocol.ApplyData{BidderName: s.Parties.BidderName, BidderCode: s.Parties.BidderCode, BiaoduanNo: enc("BD-HOSTILE-1"),
		BiaoduanName: enc("某工程"), BzjAmount: "100000.00", Zbr: enc("某招标人"), ZbrOrgNum: enc("91330100MA2CTY001W")})
	ad, envl, err := gm.SealEnvelope(s.PKI.Bidder.Cert.PublicKey.(*ecdsa.PublicKey), d, gm.C1C3C2)
	if err != nil {
		return nil, err
	}
	return map[string]string{"applyno": applyNo, "applydata": ad, "digitalenvelope": envl}, nil
}

// Upload sends doc to the platform as the institution does: fetch the
// application's public key, encrypt, send the chunks (1-based), complete.
// It returns the answer to the complete notice.
func (p *Peer) Upload(applyNo, baohanNo, fileType string, doc []byte, chunkSize int) (*protocol.Response, error) {
	complete, r, err := p.UploadChunks(applyNo, baohanNo, fileType, doc, chunkSize)
	if err != nil || r.Code != 1 {
		return r, err
	}
	return p.Call(protocol.BaohanFileCompleteNotice, complete)
}

// UploadChunks does Upload's work up to the complete notice, which it
// returns unsent with the last answer (the first refusal, if any).
func (p *Peer) UploadChunks(applyNo, baohanNo, fileType string, doc []byte, chunkSize int) (complete map[string]string, last *protocol.Response, err error) {
	r, err := p.Call(protocol.DownloadPublicKey, map[string]string{"applyno": applyNo})
	if err != nil {
		return nil, nil, err
	}
	if r.Code != 1 {
		return nil, r, nil
	}
	var pk protocol.PublicKeyResult
	if err := json.Unmarshal(r.Data, &pk); err != nil {
		return nil, nil, err
	}
	pub, err := gm.ParsePublicKey([]byte(pk.PublicKey))
	if err != nil {
		return nil, nil, err
	}
	key, iv := gm.NewKey(), gm.NewKey()
	var ct bytes.Buffer
	w, err := gm.NewCBCEncryptWriter(&ct, key, iv)
	if err != nil {
		return nil, nil, err
	}
	w.Write(doc)
	w.Close()
	var chunks []string
	chunk.Split(&ct, chunkSize, func(i int, b64 string) error { chunks = append(chunks, b64); return nil })
	for i, c := range chunks {
		r, err = p.Call(protocol.UploadBaohanFile, map[string]string{"applyno": applyNo, "baohanno": baohanNo, "filetype": fileType,
			"index": fmt.Sprint(i + 1), "baohanfile": c})
		if err != nil {
			return nil, nil, err
		}
		if r.Code != 1 {
			return nil, r, nil
		}
	}
	wk, _ := gm.WrapKey(pub, key, gm.C1C3C2)
	wiv, _ := gm.WrapKey(pub, iv, gm.C1C3C2)
	digest, _ := gm.FileDigest(bytes.NewReader(doc), gm.SM3)
	return map[string]string{"applyno": applyNo, "baohanno": baohanNo, "filetype": fileType,
		"key": wk, "iv": wiv, "baohanfilemd5": digest, "bak1": fmt.Sprint(len(chunks))}, r, nil
}

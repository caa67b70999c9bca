package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// ProbeConfig says which peer to probe: a platform or an institution of
// the family, at URL, with the appkey and appsecret it issued or was
// issued.
type ProbeConfig struct {
	URL, AppKey, AppSecret string
	// PlatformCode is sent to an institution ("" sends a placeholder).
	PlatformCode string
	// ApplyNo, when the peer is a platform and knows this application,
	// lets the probe ask its downloadpublickey and read the key's form.
	ApplyNo string
	// Side, when set, skips finding out which side the peer is.
	Side       protocol.Side
	HTTPClient *http.Client     // nil: a 30s timeout
	Now        func() time.Time // nil: time.Now
}

// Finding is what the probe concluded about one dialect key.
type Finding struct {
	Key      string `json:"key"`      // the configuration key: sign, encoding, sm2_layout
	Value    string `json:"value"`    // the value to configure ("" when not found out)
	Known    bool   `json:"known"`    // the answers show it; otherwise Value is the safe choice
	Evidence string `json:"evidence"` // why, in one line
}

// ProbeReport is the outcome of Probe.
type ProbeReport struct {
	URL       string        `json:"url"`
	AppKey    string        `json:"appkey"`
	Side      protocol.Side `json:"side"` // the side the peer plays
	Findings  []Finding     `json:"findings"`
	Exchanges []Exchange    `json:"exchanges"`
}

// signTrouble recognises an answer that refuses a request for its sign,
// in the words implementations of the family use.
var signTrouble = regexp.MustCompile(`(?i)sign|签名|验签|摘要`)

// expectsSign reads the variant a baohan peer names in its refusal.
var expectsSign = regexp.MustCompile(`expects sign ([a-z0-9-]+)`)

// Probe works out the dialect of a peer from its answers: which side it
// plays (the interfaces it serves), the sign variant it accepts (one
// harmless request, for an applyno it cannot know, signed in each
// variant until one is not refused for its sign), for a platform
// given an applyno it knows, the form of its public key, and for an
// institution the revision of baohanapply it takes (the fields its
// refusal of an empty one names). Encoding and SM2
// layout show only in what a peer sends, not in its answers: the report
// says so and proposes the values that read every form (auto).
func Probe(ctx context.Context, c ProbeConfig) (*ProbeReport, error) {
	if c.URL == "" || c.AppKey == "" || c.AppSecret == "" {
		return nil, errors.New("probe: the URL, the appkey and the appsecret are required")
	}
	if c.Side != "" && c.Side != protocol.Platform && c.Side != protocol.Institution {
		return nil, fmt.Errorf("probe: side must be platform or institution, got %q", c.Side)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	p := &prober{cfg: c, rep: &ProbeReport{URL: strings.TrimRight(c.URL, "/"), AppKey: c.AppKey}}
	p.cfg.URL = p.rep.URL
	side := c.Side
	if side == "" {
		var err error
		if side, err = p.side(ctx); err != nil {
			return p.rep, err
		}
	}
	p.rep.Side = side
	p.rep.Findings = append(p.rep.Findings, p.sign(ctx))
	p.rep.Findings = append(p.rep.Findings, p.encoding(ctx), Finding{Key: "sm2_layout", Value: gm.AutoLayout.String(),
		Evidence: "an SM2 layout shows only in the ciphertexts a peer sends: auto reads each layout (and sends c1c3c2)"})
	p.rep.Findings = append(p.rep.Findings, p.revision(ctx))
	return p.rep, nil
}

// Fields a refusal of an empty baohanapply names in each revision: the
// envelope's (applydata, digitalenvelope) and the flat revision's
// top-level application.
var (
	envelopeFields = regexp.MustCompile(`\b(applydata|digitalenvelope)\b`)
	flatFields     = regexp.MustCompile(`\b(biddername|biddercode|bzjamount|biddercontactname|biddercontactphone|biaoduanno|biaoduanname|zbr|zbrorgnum|bzjenddate)\b`)
)

// revision finds out which revision of baohanapply an institution
// takes: a baohanapply with nothing but its applyno (one it cannot know)
// and platformcode is refused for the fields it lacks, and the fields a
// refusal names are those of one revision. A platform's revision shows
// only in what it sends (baohanapply, baohanrestore).
func (p *prober) revision(ctx context.Context) Finding {
	f := Finding{Key: "revision", Value: string(protocol.RevisionEnvelope)}
	if p.rep.Side != protocol.Institution {
		f.Evidence = "a platform's revision shows only in what it sends (baohanapply with applydata and digitalenvelope, or flat): envelope is the spec's"
		return f
	}
	sign, err := protocol.ParseSignVariant(p.rep.Findings[0].Value)
	if err != nil {
		f.Evidence = "not asked: no sign variant was accepted"
		return f
	}
	_, fields := p.harmless(protocol.Institution)
	delete(fields, "bak1")
	r := p.call(ctx, protocol.BaohanApply, fields, sign)
	switch {
	case r.Resp == nil:
		f.Evidence = "an empty baohanapply was not answered: " + r.describe()
	case r.Resp.Code == protocol.CodeOK:
		f.Evidence = "the peer ACCEPTED a baohanapply without the application's fields (a defect to report to it): " + r.describe()
	default:
		env, flat := envelopeFields.FindString(r.Resp.Message), flatFields.FindString(r.Resp.Message)
		switch {
		case env != "" && flat == "":
			f.Known = true
			f.Evidence = fmt.Sprintf("an empty baohanapply is refused for %s: %q", env, r.Resp.Message)
		case flat != "" && env == "":
			f.Value, f.Known = string(protocol.RevisionFlat), true
			f.Evidence = fmt.Sprintf("an empty baohanapply is refused for %s, a field of the flat revision: %q", flat, r.Resp.Message)
		default:
			f.Evidence = fmt.Sprintf("the refusal of an empty baohanapply names no field of either revision: %q", r.Resp.Message)
		}
	}
	return f
}

type prober struct {
	cfg ProbeConfig
	rep *ProbeReport
	n   int
}

// harmless is the request the probe signs: one of the peer's interfaces
// about an application it cannot have, which changes nothing, with an
// empty field.
func (p *prober) harmless(side protocol.Side) (protocol.Interface, map[string]string) {
	p.n++
	applyNo := fmt.Sprintf("PROBE%s%02d", p.cfg.Now().Format("20060102150405"), p.n)
	// The empty bak1 tells sm3 (empty fields left out) from
	// sm3-keep-empty.
	if side == protocol.Platform {
		return protocol.DownloadPublicKey, map[string]string{"applyno": applyNo, "bak1": ""}
	}
	code := p.cfg.PlatformCode
	if code == "" {
		code = "PROBE"
	}
	return protocol.GiveupNotice, map[string]string{"applyno": applyNo, "platformcode": code, "bak1": ""}
}

// side asks one interface of each side, signed as sm3: the peer serves
// only one of them.
func (p *prober) side(ctx context.Context) (protocol.Side, error) {
	var answers []string
	for _, s := range []protocol.Side{protocol.Platform, protocol.Institution} {
		i, f := p.harmless(s)
		r := p.call(ctx, i, f, protocol.SignSM3)
		if r.Ex.Error != "" {
			return "", fmt.Errorf("probe: %s: %s", i, r.Ex.Error)
		}
		if r.Ex.HTTPStatus != http.StatusNotFound && r.Resp != nil {
			return s, nil
		}
		answers = append(answers, fmt.Sprintf("%s: %s", i, r.describe()))
	}
	return "", fmt.Errorf("probe: the peer serves neither downloadpublickey (a platform) nor giveupnotice (an institution) at %s/<name>: %s",
		p.cfg.URL, strings.Join(answers, "; "))
}

// sign sends the harmless request in each variant, the default first.
func (p *prober) sign(ctx context.Context) Finding {
	var refused []string
	for _, v := range protocol.SignVariants {
		i, f := p.harmless(p.rep.Side)
		r := p.call(ctx, i, f, v)
		switch {
		case r.Resp == nil:
			refused = append(refused, fmt.Sprintf("%s: %s", v, r.describe()))
		case r.Resp.Code == protocol.CodeOK || !signTrouble.MatchString(r.Resp.Message):
			ev := fmt.Sprintf("%s is accepted (%s answered %s)", v, i, r.describe())
			if len(refused) > 0 {
				ev += "; refused: " + strings.Join(refused, "; ")
			}
			return Finding{Key: "sign", Value: v.String(), Known: true, Evidence: ev}
		default:
			if m := expectsSign.FindStringSubmatch(r.Resp.Message); m != nil {
				if named, err := protocol.ParseSignVariant(m[1]); err == nil && named != v {
					return Finding{Key: "sign", Value: named.String(), Known: true,
						Evidence: fmt.Sprintf("the peer names it when refusing %s: %q", v, r.Resp.Message)}
				}
			}
			refused = append(refused, fmt.Sprintf("%s: %s", v, r.describe()))
		}
	}
	return Finding{Key: "sign", Evidence: "no variant was accepted (check the appkey and appsecret): " + strings.Join(refused, "; ")}
}

// encoding reads the form of a platform's public key, when an applyno it
// knows was given: base64 forms point to a base64 peer, hex to a hex one
// or to the profile's default (the profile sends the key in hex).
func (p *prober) encoding(ctx context.Context) Finding {
	f := Finding{Key: "encoding", Value: gm.Base64.String(),
		Evidence: "binary fields show only in what a peer sends: base64 is sent, and either encoding is read"}
	if p.rep.Side != protocol.Platform || p.cfg.ApplyNo == "" {
		return f
	}
	sign, err := protocol.ParseSignVariant(p.rep.Findings[0].Value)
	if err != nil {
		return f
	}
	r := p.call(ctx, protocol.DownloadPublicKey, map[string]string{"applyno": p.cfg.ApplyNo}, sign)
	if r.Resp == nil || r.Resp.Code != protocol.CodeOK {
		f.Evidence += fmt.Sprintf(" (downloadpublickey of %s: %s)", p.cfg.ApplyNo, r.describe())
		return f
	}
	var pk protocol.PublicKeyResult
	_ = json.Unmarshal(r.Resp.Data, &pk)
	key := strings.TrimSpace(pk.PublicKey)
	switch {
	case key == "":
		f.Evidence += " (downloadpublickey answered no publickey)"
	case strings.HasPrefix(key, "-----BEGIN"):
		f.Evidence = "its publickey is PEM; " + f.Evidence
	case len(key)%2 == 0 && isHexText(key):
		f.Evidence = fmt.Sprintf("its publickey is %d hex characters (the profile's form, also sm-crypto's); binary fields still show only in what it sends: base64 is sent, either is read", len(key))
	default:
		f.Value, f.Known = gm.Base64.String(), true
		f.Evidence = "its publickey is base64: a base64 peer"
	}
	return f
}

func isHexText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// call signs fields in variant v and posts them to interface i.
func (p *prober) call(ctx context.Context, i protocol.Interface, fields map[string]string, v protocol.SignVariant) *reply {
	f := map[string]string{"appkey": p.cfg.AppKey, "timestamp": protocol.FormatTime(p.cfg.Now())}
	for k, val := range fields {
		f[k] = val
	}
	f[protocol.SignField] = protocol.SignAs(v, f, p.cfg.AppSecret)
	body := protocol.MarshalFields(f)
	u := p.cfg.URL + "/" + string(i)
	r := &reply{Ex: Exchange{Direction: "out", Interface: i, URL: u, Request: string(body), At: p.cfg.Now()}}
	defer func() { p.rep.Exchanges = append(p.rep.Exchanges, r.Ex) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		r.Ex.Error = err.Error()
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		r.Ex.Error = err.Error()
		return r
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	r.Ex.HTTPStatus, r.Ex.Response = res.StatusCode, string(b)
	var resp protocol.Response
	if err := json.Unmarshal(b, &resp); err != nil {
		r.Bad = clipText(string(b), 120)
		return r
	}
	r.Resp = &resp
	return r
}

// WriteJSON writes the report as indented JSON.
func (r *ProbeReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the configuration block (Block).
func (r *ProbeReport) WriteTable(w io.Writer) error {
	_, err := io.WriteString(w, r.Block())
	return err
}

// Block is the configuration block to paste: into the platform's
// configuration for an institution ([[institution]]), into the
// institution's for a platform ([[platform]]). The appsecret is left to
// the operator (appsecret_env keeps it out of the file).
func (r *ProbeReport) Block() string {
	var b strings.Builder
	table := "platform"
	if r.Side == protocol.Institution {
		table = "institution"
	}
	fmt.Fprintf(&b, "# baohan conformance probe of %s: a %s\n", r.URL, r.Side)
	fmt.Fprintf(&b, "[[%s]]\n", table)
	fmt.Fprintf(&b, "name = %q\n", "probed "+string(r.Side))
	fmt.Fprintf(&b, "appkey = %q\n", r.AppKey)
	fmt.Fprintf(&b, "appsecret_env = %q\n", "BAOHAN_APPSECRET")
	fmt.Fprintf(&b, "base_url = %q\n", r.URL)
	for _, f := range r.Findings {
		how := "found"
		if !f.Known {
			how = "not shown by its answers"
		}
		if f.Value == "" {
			fmt.Fprintf(&b, "# %s = ?  # %s: %s\n", f.Key, how, f.Evidence)
			continue
		}
		fmt.Fprintf(&b, "%s = %q  # %s: %s\n", f.Key, f.Value, how, f.Evidence)
	}
	return b.String()
}

package security

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

var defaultLog = &harness.LogBuffer{}

func TestMain(m *testing.M) {
	// Packages that log to slog.Default (the store's migrations) are
	// inspected too.
	slog.SetDefault(slog.New(slog.NewTextHandler(defaultLog, &slog.HandlerOptions{Level: slog.LevelDebug})))
	os.Exit(m.Run())
}

// TestNoSecretsInLogs runs the whole flow (apply, bidder, issuance,
// upload, bid opening, restore, plaintext upload, invoice) with both
// services logging at debug level, plus the refusals an attacker causes
// (bad signs, unknown appkey, replays), and reads every log line for the
// appsecret, the admin tokens, both master keys, the project key, the
// SM2 private keys, the SM4 keys of applydata and of the guarantee files,
// the bidder's token, in every encoding; and the institution's lines for
// the plaintext project fields.
func TestNoSecretsInLogs(t *testing.T) {
	s := harness.Start(t)
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)

	// Hostile requests to both sides: wrong secret, unknown appkey, replay.
	forged := map[string]string{"appkey": harness.AppKey, "timestamp": protocol.FormatTime(s.Clock.Now()), "applyno": applyNo,
		"baohanno": "HXDB-FORGED", "instname": "冒名机构", "generatetime": protocol.FormatTime(s.Clock.Now()),
		"rate": "0.001", "cost": "1.00", "applystatus": "1"}
	forged["sign"] = protocol.Sign(forged, "guessed-secret")
	post(t, s.PlatDoor.URL+"/baohannotice", protocol.MarshalFields(forged))
	post(t, s.InstDoor.URL+"/baohanrestore", protocol.MarshalFields(forged))
	delete(forged, "sign")
	forged["appkey"] = "no-such-appkey"
	forged["sign"] = protocol.Sign(forged, harness.AppSecret)
	post(t, s.PlatDoor.URL+"/baohannotice", protocol.MarshalFields(forged))

	s.Clock.Advance(time.Hour + time.Second)
	s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
	s.WaitInst(applyNo, institution.Restored, 30*time.Second)
	if _, err := s.Plat.RequestInvoice(context.Background(), applyNo, platform.InvoiceInput{Type: "0", Email: "caiwu@example.cn"}); err != nil {
		t.Fatal(err)
	}
	s.WaitPlat(applyNo, platform.Invoiced, 30*time.Second)

	secrets, _ := flowSecrets(t, s, sec.No, applyNo)
	// the bidder's token (the redirecturl's last element) is a bearer
	// credential at the institution: not for the logs either
	secrets = append(secrets, textSecret("bidder token", s.Token(applyNo, time.Second)))
	logs := map[string]string{"platform": s.PlatLog.String(), "institution": s.InstLog.String(), "default": defaultLog.String()}
	n := 0
	for side, text := range logs {
		lines := strings.Split(text, "\n")
		n += len(lines)
		for i, line := range lines {
			list := secrets
			if side != "platform" {
				list = append(append([]secret(nil), secrets...), projectFields(s, sec.No)...)
			}
			for _, f := range scan(side, []byte(line), list) {
				t.Errorf("%s log line %d: %s in %.300s", side, i+1, f, line)
			}
		}
	}
	if n < 50 || !strings.Contains(logs["platform"], "level=DEBUG") && !strings.Contains(logs["platform"], "level=INFO") {
		t.Fatalf("only %d log lines: the services did not log what they did", n)
	}
	// Control: the log scanner sees what is in the lines.
	if c := scan("control", []byte(logs["platform"]), []secret{textSecret("applyno", applyNo)}); len(c) == 0 {
		t.Fatal("control: the applyno is in no platform log line")
	}
}

// A refused sign must not put the expected sign in a log: whoever reads
// the logs could send the forged request again with it (a signing oracle).
func TestLogsNoSignOracle(t *testing.T) {
	s := harness.Start(t)
	for _, door := range []*harness.Door{s.PlatDoor, s.InstDoor} {
		iface := "baohannotice"
		f := map[string]string{"appkey": harness.AppKey, "timestamp": protocol.FormatTime(s.Clock.Now()), "applyno": "BH-FORGED-0001",
			"baohanno": "HX-FORGED", "instname": "冒名机构", "generatetime": protocol.FormatTime(s.Clock.Now()),
			"rate": "0.001", "cost": "1.00", "applystatus": "1"}
		if door == s.InstDoor {
			iface = "baohanrestore"
			f = map[string]string{"appkey": harness.AppKey, "timestamp": protocol.FormatTime(s.Clock.Now()), "platformcode": harness.PlatformCode,
				"applyno": "BH-FORGED-0001", "baohanno": "HX-FORGED", "kaibiaotime": protocol.FormatTime(s.Clock.Now()), "key": "AAAAAAAAAAAAAAAAAAAAAA=="}
		}
		valid := protocol.Sign(f, harness.AppSecret)
		f["sign"] = strings.Repeat("0", 64)
		post(t, door.URL+"/"+iface, protocol.MarshalFields(f))
		for side, text := range map[string]string{"platform": s.PlatLog.String(), "institution": s.InstLog.String()} {
			if strings.Contains(strings.ToLower(text), valid) {
				t.Errorf("%s logs the sign the forged %s should have carried: a log reader can forge requests", side, iface)
			}
		}
	}
}

func post(t *testing.T, url string, body []byte) []byte {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return b.Bytes()
}

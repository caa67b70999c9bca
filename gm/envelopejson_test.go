package gm

import (
	"strings"
	"testing"
)

func TestSealApplyData(t *testing.T) {
	priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want, err string }{
		{" {\"a\":\"保函\"}\n", `{"a":"保函"}`, ""},
		{" \n", "", "no apply-data JSON"},
		{"{a:1}", "", "not valid JSON"},
	} {
		e, err := SealApplyData(&priv.PublicKey, []byte(tt.in), C1C3C2)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		got, err := OpenEnvelope(priv, e.ApplyData, e.DigitalEnvelope, C1C3C2)
		if err != nil || string(got) != tt.want {
			t.Errorf("%q: opened %q %v", tt.in, got, err)
		}
	}
}

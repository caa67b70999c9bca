package protocol

import (
	"strings"
	"testing"
)

func TestHideKeys(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"restore", `{"appkey":"K","key":"MTIzNDU2Nzg5MDEyMzQ1Ng==","applyno":"A1"}`, `{"appkey":"K","applyno":"A1","key":"(hidden)"}`},
		{"no key", `{"appkey":"K","applyno":"A1"}`, `{"appkey":"K","applyno":"A1"}`},
		{"not json", `key=abc`, `key=abc`},
		{"empty", ``, ``},
		{"array", `["key"]`, `["key"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(HideKeys([]byte(tc.in)))
			if got != tc.want {
				t.Errorf("HideKeys(%s) = %s, want %s", tc.in, got, tc.want)
			}
			if strings.Contains(got, "MTIzNDU2") {
				t.Errorf("the key is still in %s", got)
			}
		})
	}
}

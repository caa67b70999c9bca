package protocol

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignVariantGolden checks each sign variant against its golden
// vector (testdata/sign/<variant>.want: the string digested, then the
// sign) for one request that carries a number, a boolean, an empty and a
// null field and Chinese text, and the golden sign against openssl dgst
// (SM3, MD5, HMAC-SM3) over the golden string, when openssl is there.
func TestSignVariantGolden(t *testing.T) {
	body := readFile(t, filepath.Join("testdata", "sign", "request.json"))
	r, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if vs := Validate(BaohanNotice, r); len(vs) > 0 {
		t.Fatalf("the golden request breaks baohannotice's rules: %s", JoinViolations(vs, 0))
	}
	for _, v := range SignVariants {
		t.Run(v.String(), func(t *testing.T) {
			str, sign := SignStringAs(v, r.Fields, testSecret), SignAs(v, r.Fields, testSecret)
			golden := filepath.Join("testdata", "sign", v.String()+".want")
			if *update {
				if err := os.WriteFile(golden, []byte(str+"\n"+sign+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := strings.Split(strings.TrimRight(string(readFile(t, golden)), "\n"), "\n")
			if len(want) != 2 || want[0] != str || want[1] != sign {
				t.Fatalf("\n got %s\n     %s\nwant %q", str, sign, want)
			}
			if len(sign) != v.HexLen() {
				t.Errorf("sign of %d characters, want %d", len(sign), v.HexLen())
			}
			// The raw text of numbers and booleans is signed.
			if !strings.Contains(str, "applystatus=1&") || !strings.Contains(str, "cost=4000.00&") || !strings.Contains(str, "urgent=true") {
				t.Errorf("numbers or booleans not signed as sent: %s", str)
			}
			if keep := strings.Contains(str, "bak1=&bak2=&"); keep != (v == SignSM3KeepEmpty) {
				t.Errorf("empty fields kept: %v", keep)
			}
			var alg, key string
			switch v {
			case SignMD5:
				alg = "md5"
			case SignHMACSM3:
				alg, key = "sm3", testSecret
				if strings.Contains(str, testSecret) {
					t.Error("the HMAC string holds the secret")
				}
			default:
				alg = "sm3"
			}
			if got := openssl(t, alg, key, want[0]); got != want[1] {
				t.Errorf("openssl dgst -%s over the golden string: %s, golden sign %s", alg, got, want[1])
			}
		})
	}
}

// TestVerifyAs: a request is checked only in the configured variant,
// either hex case; a mismatch names the variant the peer used, in the
// full diagnosis and in the short answer.
func TestVerifyAs(t *testing.T) {
	body := readFile(t, filepath.Join("testdata", "sign", "request.json"))
	base, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, used := range SignVariants {
		for _, want := range SignVariants {
			for _, upper := range []bool{false, true} {
				r, _ := ParseRequest(body)
				s := SignAs(used, base.Fields, testSecret)
				if upper {
					s = strings.ToUpper(s)
				}
				r.Fields[SignField] = s
				res := VerifyAs(r, testSecret, want)
				if res.OK != (used == want) {
					t.Fatalf("signed %s, checked as %s: ok %v (%s)", used, want, res.OK, res.Diagnosis())
				}
				if res.OK {
					continue
				}
				got, ok := res.UsedVariant()
				if !ok || got != used {
					t.Errorf("signed %s, checked as %s: the diagnosis names %v %v: %s", used, want, got, ok, res.Diagnosis())
				}
				sum := res.Summary()
				if !strings.Contains(sum, "signed as "+used.String()) || !strings.Contains(sum, "expects sign "+want.String()) || len([]rune(sum)) > MaxMessage {
					t.Errorf("summary %q", sum)
				}
				if strings.Contains(res.Diagnosis(), testSecret) || strings.Contains(res.Diagnosis(), res.Expected) {
					t.Error("the diagnosis shows the secret or the expected sign")
				}
			}
		}
	}
	// A wrong secret: no variant, the rule of the configured one.
	r, _ := ParseRequest(body)
	r.Fields[SignField] = SignAs(SignMD5, base.Fields, "other")
	res := VerifyAs(r, testSecret, SignMD5)
	if res.OK || len(res.IDs) != 0 || !strings.Contains(res.Diagnosis(), SignMD5.Rule()) {
		t.Errorf("wrong secret: %+v %s", res.IDs, res.Diagnosis())
	}
	if s := res.Summary(); !strings.Contains(s, "check the appsecret") {
		t.Errorf("summary %q", s)
	}
	for _, n := range []string{"", "SM3", " hmac-sm3 ", "md5", "sm3-keep-empty"} {
		if _, err := ParseSignVariant(n); err != nil {
			t.Errorf("ParseSignVariant(%q): %v", n, err)
		}
	}
	if _, err := ParseSignVariant("sha256"); err == nil {
		t.Error("sha256 accepted")
	}
}

func TestClipMessage(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"short", 5}, {strings.Repeat("签", 100), 100}, {strings.Repeat("签", 101), 100}, {strings.Repeat("a", 300), 100}} {
		got := ClipMessage(tt.in)
		if n := len([]rune(got)); n != tt.want {
			t.Errorf("%d characters in, %d out, want %d", len([]rune(tt.in)), n, tt.want)
		}
		if len([]rune(tt.in)) > MaxMessage && !strings.HasSuffix(got, "…") {
			t.Errorf("cut without …")
		}
	}
}

package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestResponseMarshal(t *testing.T) {
	tests := []struct {
		r    Response
		want string
	}{
		{OK(nil), `{"code":1,"message":"success","data":{}}`},
		{OK(ApplyResult{RedirectURL: "https://fi.example.cn/apply?no=A1&t=x"}), `{"code":1,"message":"success","data":{"redirecturl":"https://fi.example.cn/apply?no=A1&t=x"}}`},
		{OK(PublicKeyResult{PublicKey: "04ab"}), `{"code":1,"message":"success","data":{"publickey":"04ab"}}`},
		{OK(json.RawMessage(`{"x":1}`)), `{"code":1,"message":"success","data":{"x":1}}`},
		{OK((*ApplyResult)(nil)), `{"code":1,"message":"success","data":{}}`},
		{Fail(`field "applyno" is required`), `{"code":0,"message":"field \"applyno\" is required","data":{}}`},
		{Fail("unknown appkey %q", "X"), `{"code":0,"message":"unknown appkey \"X\"","data":{}}`},
		{Response{Code: 0, Message: "m"}, `{"code":0,"message":"m","data":{}}`},
		{Response{Code: 1, Message: "m", Data: json.RawMessage("null")}, `{"code":1,"message":"m","data":{}}`},
		{Response{Code: 1, Message: "m", Data: json.RawMessage("{bad")}, `{"code":1,"message":"m","data":{}}`},
	}
	for _, tt := range tests {
		if got := string(tt.r.Marshal()); got != tt.want {
			t.Errorf("\n got %s\nwant %s", got, tt.want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	good := []struct {
		in   string
		code int
		msg  string
		data string
	}{
		{`{"code":1,"message":"success","data":{"redirecturl":"u"}}`, 1, "success", `{"redirecturl":"u"}`},
		{`{"code":0,"message":"bad"}`, 0, "bad", `{}`},
		{`{"code":"1","message":"ok","data":null}`, 1, "ok", `{}`},
		{`{"code":0,"message":null,"data":{}}`, 0, "", `{}`},
	}
	for _, tt := range good {
		r, err := ParseResponse([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if r.Code != tt.code || r.Message != tt.msg || string(r.Data) != tt.data {
			t.Errorf("%s: %+v", tt.in, r)
		}
	}
	bad := map[string]string{
		`<html>502 Bad Gateway</html>`: `answer is not a JSON object: "<html>502 Bad Gateway</html>"`,
		`[]`:                           `answer is not a JSON object: "[]"`,
		`null`:                         `answer is not a JSON object: "null"`,
		`{"message":"ok"}`:             `answer has no "code": "{\"message\":\"ok\"}"`,
		`{"code":2}`:                   `answer's "code" is not 0 or 1: 2`,
		`{"code":"ok"}`:                `answer's "code" is not 0 or 1: "ok"`,
		`{"code":1,"message":5}`:       `answer's "message" is not a string: 5`,
	}
	for in, want := range bad {
		_, err := ParseResponse([]byte(in))
		if err == nil || err.Error() != want {
			t.Errorf("ParseResponse(%s) = %v, want %s", in, err, want)
		}
	}
	long := `{"msg":"` + strings.Repeat("长", 300) + `"}`
	_, err := ParseResponse([]byte(long))
	if err == nil || len(err.Error()) > 260 {
		t.Errorf("long answer not clipped: %v", err)
	}
}

func TestResponseDecodeData(t *testing.T) {
	r, err := ParseResponse([]byte(`{"code":1,"message":"success","data":{"publickey":"04aa"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var pk PublicKeyResult
	if err := r.DecodeData(&pk); err != nil || pk.PublicKey != "04aa" || !r.OK() {
		t.Fatalf("%v %+v", err, pk)
	}
}

package protocol

import (
	"strings"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	in := QuitNoticeRequest{AppKey: "k", ApplyNo: "A1", ApplyStatus: StatusRefused}
	m := Encode(in)
	if len(m) != 3 || m["appkey"] != "k" || m["applyno"] != "A1" || m["applystatus"] != "0" {
		t.Fatalf("Encode = %v", m)
	}
	if got := Encode(&in); len(got) != 3 {
		t.Fatalf("Encode(pointer) = %v", got)
	}
	if got := Encode(map[string]string{"a": "1", "b": ""}); len(got) != 1 || got["a"] != "1" {
		t.Fatalf("Encode(map) = %v", got)
	}
	r := NewRequest(map[string]string{"appkey": "k", "tuibaotime": "2024-03-20 16:44:58", "jbrname": "x"})
	var out QuitNoticeRequest
	if err := Decode(r, &out); err != nil {
		t.Fatal(err)
	}
	if out.AppKey != "k" || out.TuibaoTime != "2024-03-20 16:44:58" || out.ApplyNo != "" {
		t.Fatalf("Decode = %+v", out)
	}
	if err := Decode(r, out); err == nil || !strings.Contains(err.Error(), "pointer to a struct") {
		t.Fatalf("Decode(non-pointer) = %v", err)
	}
	type bad struct {
		N int `json:"n"`
	}
	if err := Decode(r, &bad{}); err == nil || !strings.Contains(err.Error(), "fields must be strings") {
		t.Fatalf("Decode(int field) = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Encode(int) did not panic")
		}
	}()
	Encode(42)
}

func TestMarshalFields(t *testing.T) {
	got := string(MarshalFields(map[string]string{"url": "https://a.cn/?a=1&b=<2>", "name": "王小明", "q": `"x"`, "Z": "z"}))
	want := `{"Z":"z","name":"王小明","q":"\"x\"","url":"https://a.cn/?a=1&b=<2>"}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if got := string(MarshalFields(nil)); got != `{}` {
		t.Fatal(got)
	}
}

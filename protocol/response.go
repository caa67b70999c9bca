package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Response is the envelope of every answer: {"code":1,"message":...,
// "data":{...}} on success, {"code":0,"message":"<reason>","data":{}} on
// failure. data is {} when the spec says reserved (预留字段).
type Response struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// Response codes.
const (
	CodeFail = 0
	CodeOK   = 1
)

var emptyData = json.RawMessage(`{}`)

// OK returns a success envelope with data (nil: {}) and message "success".
// data that cannot be marshalled panics: that is a programming error.
func OK(data any) Response {
	return Response{Code: CodeOK, Message: "success", Data: marshalData(data)}
}

// Fail returns a failure envelope (code 0, data {}) with the message.
func Fail(format string, a ...any) Response {
	msg := format
	if len(a) > 0 {
		msg = fmt.Sprintf(format, a...)
	}
	return Response{Code: CodeFail, Message: msg, Data: emptyData}
}

func marshalData(data any) json.RawMessage {
	switch d := data.(type) {
	case nil:
		return emptyData
	case json.RawMessage:
		if len(bytes.TrimSpace(d)) == 0 {
			return emptyData
		}
		return d
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		panic(fmt.Sprintf("protocol: response data %T: %v", data, err))
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if bytes.Equal(b, []byte("null")) {
		return emptyData
	}
	return b
}

// OK reports whether the code is 1.
func (r *Response) OK() bool { return r.Code == CodeOK }

// Marshal encodes the envelope (data {} when empty), without escaping
// HTML characters, with no trailing newline.
func (r Response) Marshal() []byte {
	if len(bytes.TrimSpace(r.Data)) == 0 || bytes.Equal(bytes.TrimSpace(r.Data), []byte("null")) {
		r.Data = emptyData
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		// Data was not valid JSON: answer without it rather than not at all.
		buf.Reset()
		r.Data = emptyData
		_ = enc.Encode(r)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// DecodeData decodes the data object into v.
func (r *Response) DecodeData(v any) error {
	if len(r.Data) == 0 {
		return fmt.Errorf("response has no data")
	}
	return json.Unmarshal(r.Data, v)
}

// ParseResponse decodes an answer strictly enough to trust it: a JSON
// object with an integer "code" (0 or 1) and, when present, a string
// "message"; a missing data becomes {}.
func ParseResponse(b []byte) (*Response, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("answer is not a JSON object: %q", clipBytes(b, 200))
	}
	c, ok := raw["code"]
	if !ok {
		return nil, fmt.Errorf("answer has no \"code\": %q", clipBytes(b, 200))
	}
	var r Response
	if err := json.Unmarshal(c, &r.Code); err != nil {
		// Some peers send "code":"1".
		var s string
		if json.Unmarshal(c, &s) != nil || (s != "0" && s != "1") {
			return nil, fmt.Errorf("answer's \"code\" is not 0 or 1: %s", clipBytes(c, 50))
		}
		r.Code = int(s[0] - '0')
	}
	if r.Code != CodeOK && r.Code != CodeFail {
		return nil, fmt.Errorf("answer's \"code\" is not 0 or 1: %d", r.Code)
	}
	if m, ok := raw["message"]; ok && !bytes.Equal(m, []byte("null")) {
		if err := json.Unmarshal(m, &r.Message); err != nil {
			return nil, fmt.Errorf("answer's \"message\" is not a string: %s", clipBytes(m, 50))
		}
	}
	r.Data = emptyData
	if d, ok := raw["data"]; ok && !bytes.Equal(d, []byte("null")) {
		r.Data = d
	}
	return &r, nil
}

// clipBytes returns at most n bytes of b as a string, cut at a rune
// boundary.
func clipBytes(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && n < len(b) && b[n]&0xC0 == 0x80 {
		n--
	}
	return string(b[:n]) + "…"
}

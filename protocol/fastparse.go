package protocol

import "bytes"

// fastParse enables parseFlatFast (tests turn it off to compare).
var fastParse = true

// parseFlatFast parses the common body in one pass: a flat JSON object
// whose keys and values are strings without escapes or control
// characters, each key once, no key empty (every request a conforming
// peer sends, and every 700 KB upload chunk). Anything else gives nil and
// the full parser decides, with its precise errors; for every body it
// accepts, the result is the full parser's (FuzzParseRequestFast). body
// must be valid UTF-8.
func parseFlatFast(body []byte) *Request {
	text := body
	if bytes.HasPrefix(text, utf8BOM) {
		text = text[len(utf8BOM):]
	}
	i := skipJSONSpace(text, 0)
	if i >= len(text) || text[i] != '{' {
		return nil
	}
	r := &Request{Raw: body, Fields: make(map[string]string, 12), raw: make(map[string][]byte, 12), Keys: make([]string, 0, 12)}
	i = skipJSONSpace(text, i+1)
	if i < len(text) && text[i] == '}' {
		i++
	} else {
		for {
			ks, ke, ok := plainString(text, i)
			if !ok || ke == ks {
				return nil
			}
			key := string(text[ks:ke])
			if _, dup := r.Fields[key]; dup {
				return nil
			}
			i = skipJSONSpace(text, ke+1)
			if i >= len(text) || text[i] != ':' {
				return nil
			}
			vs, ve, ok := plainString(text, skipJSONSpace(text, i+1))
			if !ok {
				return nil
			}
			r.Keys = append(r.Keys, key)
			r.Fields[key] = string(text[vs:ve])
			r.raw[key] = text[vs:ve:ve]
			i = skipJSONSpace(text, ve+1)
			if i >= len(text) {
				return nil
			}
			if text[i] == '}' {
				i++
				break
			}
			if text[i] != ',' {
				return nil
			}
			i = skipJSONSpace(text, i+1)
		}
	}
	if skipJSONSpace(text, i) != len(text) {
		return nil
	}
	return r
}

// skipJSONSpace returns the index of the first byte at or after i that is
// not JSON white space.
func skipJSONSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// stringStop marks the bytes that end or complicate a JSON string: the
// quote, the backslash and the control characters.
var stringStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// plainString reads the JSON string starting with the quote at b[i]: it
// returns the bounds of its content (without the quotes) when it holds
// no escape and no control character.
func plainString(b []byte, i int) (start, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	start = i + 1
	for j := start; j < len(b); j++ {
		if !stringStop[b[j]] {
			continue
		}
		if b[j] == '"' {
			return start, j, true
		}
		return 0, 0, false
	}
	return 0, 0, false
}

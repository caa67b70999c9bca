package ofd_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/ofd"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		width  float64
		indent float64
		want   []string
	}{
		{"fits", "你好 OFD", 20, 0, []string{"你好 OFD"}},
		{"cjk breaks anywhere", "一二三四五六七", 4, 0, []string{"一二三四", "五六七"}},
		{"indent", "一二三四五六七", 4, 2, []string{"一二", "三四五六", "七"}},
		{"closing punctuation hangs", "一二三四，五六", 4, 0, []string{"一二三四，", "五六"}},
		{"two closing marks: the character goes down with them", "一二三四）。五", 4, 0, []string{"一二三", "四）。五"}},
		{"opening punctuation moves down", "一二三（四）五", 4, 0, []string{"一二三", "（四）五"}},
		{"words stay whole", "金额 20000.00 元整", 5, 0, []string{"金额", "20000.00", "元整"}},
		{"long word is cut", "ABCDEFGHIJKLMNOPQRST", 5, 0, []string{"ABCDEFGHIJ", "KLMNOPQRST"}},
		{"base64 after cjk fills the line", "密文：QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", 10, 0, []string{"密文：QUJDREVGR0hJSk", "tMTU5PUFFSU1RVVldY"}},
		{"newline", "一二\n三", 10, 0, []string{"一二", "三"}},
		{"empty", "", 10, 0, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ofd.Wrap(tt.text, tt.width, 1, tt.indent)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Wrap(%q, %v) = %q, want %q", tt.text, tt.width, got, tt.want)
			}
			for i, l := range got {
				limit := tt.width
				if i == 0 {
					limit -= tt.indent
				}
				w := ofd.Measure(l, 1)
				r := []rune(l)
				if w > limit && !(len(r) > 0 && strings.ContainsRune("，。）", r[len(r)-1])) {
					t.Errorf("line %q is %v wide, limit %v", l, w, limit)
				}
			}
		})
	}
}

func TestDeltas(t *testing.T) {
	tests := []struct {
		in   []float64
		want string
	}{
		{[]float64{3, 3, 3, 3, 1.5, 1.5}, "g 4 3 1.5 1.5"},
		{[]float64{1, 2, 3}, "1 2 3"},
		{[]float64{3.7, 3.7, 3.7}, "g 3 3.7"},
		{nil, ""},
	}
	for _, tt := range tests {
		got := ofd.FormatDeltas(tt.in)
		if got != tt.want {
			t.Errorf("FormatDeltas(%v) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := ofd.ParseDeltas(got)
		if err != nil || len(back) != len(tt.in) {
			t.Errorf("ParseDeltas(%q) = %v, %v", got, back, err)
		}
	}
	for _, bad := range []string{"g", "g 2", "g x 1", "g 99999999 1", "1 NaN", "1 Inf"} {
		if _, err := ofd.ParseDeltas(bad); err == nil {
			t.Errorf("ParseDeltas(%q) accepted", bad)
		}
	}
}

func TestAdvance(t *testing.T) {
	for _, tt := range []struct {
		r    rune
		want float64
	}{{'中', 4}, {'，', 4}, {'“', 4}, {'A', 2}, {'1', 2}, {' ', 2}, {'（', 4}} {
		if got := ofd.Advance(tt.r, 4); got != tt.want {
			t.Errorf("Advance(%q) = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestAddSignaturesRef(t *testing.T) {
	in := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`)
	out, err := ofd.AddSignaturesRef(in, "/Doc_0/Signs/Signatures.xml")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(in), "</ofd:DocBody>", "<ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody>", 1)
	if string(out) != want {
		t.Errorf("got %s", out)
	}
	if _, err := ofd.AddSignaturesRef(out, "/x"); err == nil {
		t.Error("second Signatures element added")
	}
}

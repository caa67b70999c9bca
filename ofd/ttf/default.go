package ttf

import (
	_ "embed"
	"sync"
)

// DefaultName is the family of the default font.
const DefaultName = "WenQuanYi Micro Hei"

//go:embed fonts/WenQuanYiMicroHei-GBK.ttf
var defaultTTF []byte

var defaultFont = sync.OnceValues(func() (*Font, error) { return Parse(defaultTTF) })

// Default is the font this module embeds: WenQuanYi Micro Hei (文泉驿微米黑,
// Apache License 2.0; fonts/NOTICE), cut to the characters of GBK (all of
// GB2312 and the other ideographs of GBK), ASCII, Latin-1 and the
// general, CJK and full-width punctuation: 22,058 characters, 3 MB. Its
// Latin letters and digits are proportional (W 0.88 em, i 0.26 em), the
// ideographs and full-width punctuation 1 em.
func Default() *Font {
	f, err := defaultFont()
	if err != nil {
		panic("ttf: the embedded font does not parse: " + err.Error()) // a build defect, caught by the tests
	}
	return f
}

// DefaultBytes is the embedded font file. The slice is shared: do not
// modify it.
func DefaultBytes() []byte { return defaultTTF }

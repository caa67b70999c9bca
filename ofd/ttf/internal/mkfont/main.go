// Command mkfont makes the font embedded in package ttf: the characters of
// GBK (GB2312 and the rest of the unified ideographs in it), ASCII,
// Latin-1 and the CJK and full-width punctuation, cut from WenQuanYi Micro
// Hei (Debian's fonts-wqy-microhei, face 0 of wqy-microhei.ttc) with
// ttf.Subset:
//
//	apt-get install fonts-wqy-microhei
//	go run ./ofd/ttf/internal/mkfont -src /usr/share/fonts/truetype/wqy/wqy-microhei.ttc \
//	        -out ofd/ttf/fonts/WenQuanYiMicroHei-GBK.ttf
//
// The output is a function of the source font.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/baohan-dev/baohan/ofd/ttf"
)

func main() {
	src := flag.String("src", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "WenQuanYi Micro Hei collection")
	face := flag.Int("face", 0, "face of the collection (0: proportional Latin, 1: Mono)")
	out := flag.String("out", "WenQuanYiMicroHei-GBK.ttf", "output font")
	gb2312 := flag.Bool("gb2312", false, "GB2312 only instead of GBK")
	flag.Parse()
	data, err := os.ReadFile(*src)
	if err != nil {
		log.Fatal(err)
	}
	f, err := ttf.ParseCollection(data, *face)
	if err != nil {
		log.Fatal(err)
	}
	set := map[rune]bool{}
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			set[r] = true
		}
	}
	add(0x20, 0x7E)     // ASCII
	add(0xA0, 0xFF)     // Latin-1
	add(0x2000, 0x206F) // general punctuation
	add(0x3000, 0x303F) // CJK symbols and punctuation
	add(0xFF00, 0xFFEF) // full-width forms
	dec := simplifiedchinese.GBK.NewDecoder()
	lead, trail := [2]int{0x81, 0xFE}, [2]int{0x40, 0xFE}
	if *gb2312 {
		lead, trail = [2]int{0xA1, 0xF7}, [2]int{0xA1, 0xFE}
	}
	for a := lead[0]; a <= lead[1]; a++ {
		for b := trail[0]; b <= trail[1]; b++ {
			if b == 0x7F {
				continue
			}
			s, err := dec.Bytes([]byte{byte(a), byte(b)})
			if err != nil {
				continue
			}
			for _, r := range string(s) {
				if r != 0xFFFD {
					set[r] = true
				}
			}
		}
	}
	var rs []rune
	missing := 0
	for r := range set {
		if f.Has(r) {
			rs = append(rs, r)
		} else {
			missing++
		}
	}
	sub, err := f.Subset(rs)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, sub, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d characters (%d of the set not in the font), %d bytes\n", *out, len(rs), missing, len(sub))
}

package guarantee

import (
	"testing"

	"github.com/makiuchi-d/gozxing/qrcode"
)

// FuzzDecodeQR: any bytes given as a picture decode to a QR code's text
// or to nothing, without a panic escaping, and the QR codes this package
// draws read back.
func FuzzDecodeQR(f *testing.F) {
	const want = "https://fi.example.cn/verify?baohanno=BH1&code=K7MW3P9Q"
	png, err := qrPNG(want)
	if err != nil {
		f.Fatal(err)
	}
	if got, ok := decodeQR(qrcode.NewQRCodeReader(), png); !ok || got != want {
		f.Fatalf("the QR code drawn reads %q, %v", got, ok)
	}
	f.Add(png)
	f.Add(png[:len(png)/2])
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeQR(qrcode.NewQRCodeReader(), b)
	})
}

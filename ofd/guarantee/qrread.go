package guarantee

import (
	"bytes"
	"errors"
	"image"
	_ "image/jpeg" // pictures of other makers' documents
	_ "image/png"
	"path"
	"strings"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/baohan-dev/baohan/ofd"
)

// ErrNoQR: no picture of the document decodes as a QR code.
var ErrNoQR = errors.New("guarantee: no picture of the document is a readable QR code")

// ReadQR decodes the QR code printed on a guarantee: the content of the
// first picture of the package (PNG or JPEG, in entry order) that reads
// as a QR code. It is how a reader of the printed page gets the
// verification URL, independently of what the document's metadata says
// (VerifyURLOf).
func ReadQR(pkg *ofd.Package) (string, error) {
	reader := qrcode.NewQRCodeReader()
	for _, e := range pkg.Entries() {
		switch strings.ToLower(path.Ext(e.Name)) {
		case ".png", ".jpg", ".jpeg":
		default:
			continue
		}
		b, err := pkg.ReadFile(e.Name)
		if err != nil || len(b) > 4<<20 {
			continue
		}
		if text, ok := decodeQR(reader, b); ok {
			return text, nil
		}
	}
	return "", ErrNoQR
}

// maxQRPixels bounds the pictures decoded (a QR code on a page is small).
const maxQRPixels = 2000 * 2000

// decodeQR decodes one picture as a QR code. The picture comes from a
// document someone else made: a picture the decoder trips over (it
// panics on some inputs) is not a QR code.
func decodeQR(reader gozxing.Reader, b []byte) (text string, ok bool) {
	defer func() {
		if recover() != nil {
			text, ok = "", false
		}
	}()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxQRPixels {
		return "", false
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return "", false
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", false
	}
	res, err := reader.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", false
	}
	return res.GetText(), true
}

package ofd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// The r* types read OFD XML by local name, so that prefixed
// ("ofd:Page" in http://www.ofdspec.org/2016) and unprefixed documents
// both parse.

// unmarshalXML decodes one OFD XML file strictly: UTF-8 only, nothing but
// the declaration, comments and white space around the root element, and
// the root in the OFD namespace (or in none: unprefixed files are
// tolerated).
func unmarshalXML(name string, data []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		return nil, errors.New("encoding " + label + " is not supported (UTF-8 only)")
	}
	var root *xml.StartElement
	for root == nil {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return errorf("%s: no root element", name)
			}
			return errorf("%s: %v", name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			root = &t
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errorf("%s: text before the root element", name)
			}
		case xml.Directive:
			return errorf("%s: DOCTYPE and other directives are not allowed", name)
		}
	}
	if root.Name.Space != Namespace && root.Name.Space != "" {
		return errorf("%s: root element %s is in namespace %q, not %s", name, root.Name.Local, root.Name.Space, Namespace)
	}
	if err := d.DecodeElement(v, root); err != nil {
		return errorf("%s: %v", name, err)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errorf("%s: after the root element: %v", name, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errorf("%s: text after the root element", name)
			}
		case xml.StartElement:
			return errorf("%s: a second root element <%s>", name, t.Name.Local)
		case xml.Directive:
			return errorf("%s: directive after the root element", name)
		}
	}
}

type rOFD struct {
	XMLName xml.Name   `xml:"OFD"`
	Version string     `xml:"Version,attr"`
	DocType string     `xml:"DocType,attr"`
	DocBody []rDocBody `xml:"DocBody"`
}

type rDocBody struct {
	DocInfo    rDocInfo `xml:"DocInfo"`
	DocRoot    string   `xml:"DocRoot"`
	Signatures string   `xml:"Signatures"`
}

type rDocInfo struct {
	DocID          string   `xml:"DocID"`
	Title          string   `xml:"Title"`
	Author         string   `xml:"Author"`
	Subject        string   `xml:"Subject"`
	CreationDate   string   `xml:"CreationDate"`
	ModDate        string   `xml:"ModDate"`
	Creator        string   `xml:"Creator"`
	CreatorVersion string   `xml:"CreatorVersion"`
	Keywords       []string `xml:"Keywords>Keyword"`
	CustomData     []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:",chardata"`
	} `xml:"CustomDatas>CustomData"`
}

type rDocument struct {
	XMLName    xml.Name `xml:"Document"`
	CommonData struct {
		MaxUnitID   uint64    `xml:"MaxUnitID"`
		PageArea    rPageArea `xml:"PageArea"`
		PublicRes   []string  `xml:"PublicRes"`
		DocumentRes []string  `xml:"DocumentRes"`
	} `xml:"CommonData"`
	Pages []struct {
		ID      uint64 `xml:"ID,attr"`
		BaseLoc string `xml:"BaseLoc,attr"`
	} `xml:"Pages>Page"`
	Attachments string `xml:"Attachments"`
}

type rPageArea struct {
	PhysicalBox    string `xml:"PhysicalBox"`
	ApplicationBox string `xml:"ApplicationBox"`
}

type rRes struct {
	XMLName xml.Name `xml:"Res"`
	BaseLoc string   `xml:"BaseLoc,attr"`
	Fonts   []struct {
		ID         uint64 `xml:"ID,attr"`
		FontName   string `xml:"FontName,attr"`
		FamilyName string `xml:"FamilyName,attr"`
		Bold       string `xml:"Bold,attr"`
		FontFile   string `xml:"FontFile"`
	} `xml:"Fonts>Font"`
	MultiMedia []struct {
		ID        uint64 `xml:"ID,attr"`
		Type      string `xml:"Type,attr"`
		Format    string `xml:"Format,attr"`
		MediaFile string `xml:"MediaFile"`
	} `xml:"MultiMedias>MultiMedia"`
}

type rPage struct {
	XMLName  xml.Name   `xml:"Page"`
	Area     *rPageArea `xml:"Area"`
	Template []struct {
		TemplateID string `xml:"TemplateID,attr"`
	} `xml:"Template"`
	Content struct {
		Layer []rLayer `xml:"Layer"`
	} `xml:"Content"`
}

type rColor struct {
	Value string `xml:"Value,attr"`
}

type rText struct {
	ID        uint64  `xml:"ID,attr"`
	Boundary  string  `xml:"Boundary,attr"`
	CTM       string  `xml:"CTM,attr"`
	Font      uint64  `xml:"Font,attr"`
	Size      float64 `xml:"Size,attr"`
	Weight    string  `xml:"Weight,attr"`
	Visible   string  `xml:"Visible,attr"`
	FillColor *rColor `xml:"FillColor"`
	TextCode  []struct {
		X      *float64 `xml:"X,attr"`
		Y      *float64 `xml:"Y,attr"`
		DeltaX string   `xml:"DeltaX,attr"`
		DeltaY string   `xml:"DeltaY,attr"`
		Text   string   `xml:",chardata"`
	} `xml:"TextCode"`
}

type rPath struct {
	ID              uint64  `xml:"ID,attr"`
	Boundary        string  `xml:"Boundary,attr"`
	CTM             string  `xml:"CTM,attr"`
	LineWidth       string  `xml:"LineWidth,attr"`
	Stroke          string  `xml:"Stroke,attr"`
	Fill            string  `xml:"Fill,attr"`
	Visible         string  `xml:"Visible,attr"`
	StrokeColor     *rColor `xml:"StrokeColor"`
	FillColor       *rColor `xml:"FillColor"`
	AbbreviatedData string  `xml:"AbbreviatedData"`
}

type rImage struct {
	ID         uint64 `xml:"ID,attr"`
	Boundary   string `xml:"Boundary,attr"`
	CTM        string `xml:"CTM,attr"`
	ResourceID uint64 `xml:"ResourceID,attr"`
	Visible    string `xml:"Visible,attr"`
}

// rLayer keeps the objects of a layer (and of nested PageBlocks) in
// drawing order, and the names of elements it does not understand.
type rLayer struct {
	ID          uint64
	Objects     []any // *rText, *rPath, *rImage
	Unsupported []string
}

func (l *rLayer) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for _, a := range start.Attr {
		if a.Name.Local == "ID" {
			l.ID = parseUint(a.Value)
		}
	}
	return l.decodeChildren(d, 0)
}

// maxBlockDepth bounds nested PageBlocks.
const maxBlockDepth = 32

func (l *rLayer) decodeChildren(d *xml.Decoder, depth int) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			var v any
			switch t.Name.Local {
			case "TextObject":
				v = new(rText)
			case "PathObject":
				v = new(rPath)
			case "ImageObject":
				v = new(rImage)
			case "PageBlock":
				if depth >= maxBlockDepth {
					return errors.New("PageBlocks nested too deep")
				}
				if err := l.decodeChildren(d, depth+1); err != nil {
					return err
				}
				continue
			default:
				l.Unsupported = append(l.Unsupported, t.Name.Local)
				if err := d.Skip(); err != nil {
					return err
				}
				continue
			}
			if err := d.DecodeElement(v, &t); err != nil {
				return err
			}
			l.Objects = append(l.Objects, v)
		}
	}
}

type rAttachments struct {
	XMLName    xml.Name `xml:"Attachments"`
	Attachment []struct {
		ID           string `xml:"ID,attr"`
		Name         string `xml:"Name,attr"`
		Format       string `xml:"Format,attr"`
		CreationDate string `xml:"CreationDate,attr"`
		Size         string `xml:"Size,attr"`
		Usage        string `xml:"Usage,attr"`
		FileLoc      string `xml:"FileLoc"`
	} `xml:"Attachment"`
}

func parseUint(s string) uint64 {
	var n uint64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' || n > (1<<63)/10 {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

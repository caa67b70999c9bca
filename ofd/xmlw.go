package ofd

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// Namespace is the OFD namespace. Files are written with the "ofd:"
// prefix (ofd.js only finds prefixed names) and read by namespace or
// local name.
const Namespace = "http://www.ofdspec.org/2016"

func errorf(format string, a ...any) error { return fmt.Errorf("ofd: "+format, a...) }

// marshalXML writes the XML declaration and v. Element order is the
// field order of the w* types below, which follows the schemas of
// GB/T 33190-2016.
func marshalXML(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// OFD.xml (OFD.xsd).
type wOFD struct {
	XMLName xml.Name    `xml:"ofd:OFD"`
	NS      string      `xml:"xmlns:ofd,attr"`
	Version string      `xml:"Version,attr"`
	DocType string      `xml:"DocType,attr"`
	DocBody []*wDocBody `xml:"ofd:DocBody"`
}

type wDocBody struct {
	DocInfo    wDocInfo `xml:"ofd:DocInfo"`
	DocRoot    string   `xml:"ofd:DocRoot"`
	Signatures string   `xml:"ofd:Signatures,omitempty"`
}

type wDocInfo struct {
	DocID          string        `xml:"ofd:DocID"`
	Title          string        `xml:"ofd:Title,omitempty"`
	Author         string        `xml:"ofd:Author,omitempty"`
	Subject        string        `xml:"ofd:Subject,omitempty"`
	Abstract       string        `xml:"ofd:Abstract,omitempty"`
	CreationDate   string        `xml:"ofd:CreationDate,omitempty"`
	ModDate        string        `xml:"ofd:ModDate,omitempty"`
	DocUsage       string        `xml:"ofd:DocUsage,omitempty"`
	Keywords       *wKeywords    `xml:"ofd:Keywords"`
	Creator        string        `xml:"ofd:Creator,omitempty"`
	CreatorVersion string        `xml:"ofd:CreatorVersion,omitempty"`
	CustomDatas    *wCustomDatas `xml:"ofd:CustomDatas"`
}

type wKeywords struct {
	Keyword []string `xml:"ofd:Keyword"`
}

type wCustomDatas struct {
	CustomData []wCustomData `xml:"ofd:CustomData"`
}

type wCustomData struct {
	Name  string `xml:"Name,attr"`
	Value string `xml:",chardata"`
}

// Document.xml (Document.xsd, Definitions.xsd CT_CommonData).
type wDocument struct {
	XMLName     xml.Name    `xml:"ofd:Document"`
	NS          string      `xml:"xmlns:ofd,attr"`
	CommonData  wCommonData `xml:"ofd:CommonData"`
	Pages       wPages      `xml:"ofd:Pages"`
	Attachments string      `xml:"ofd:Attachments,omitempty"`
}

type wCommonData struct {
	MaxUnitID   uint64    `xml:"ofd:MaxUnitID"`
	PageArea    wPageArea `xml:"ofd:PageArea"`
	PublicRes   []string  `xml:"ofd:PublicRes"`
	DocumentRes []string  `xml:"ofd:DocumentRes"`
}

type wPageArea struct {
	PhysicalBox    string `xml:"ofd:PhysicalBox"`
	ApplicationBox string `xml:"ofd:ApplicationBox,omitempty"`
}

type wPages struct {
	Page []wPageRef `xml:"ofd:Page"`
}

type wPageRef struct {
	ID      uint64 `xml:"ID,attr"`
	BaseLoc string `xml:"BaseLoc,attr"`
}

// PublicRes.xml and DocumentRes.xml (Res.xsd).
type wRes struct {
	XMLName     xml.Name      `xml:"ofd:Res"`
	NS          string        `xml:"xmlns:ofd,attr"`
	BaseLoc     string        `xml:"BaseLoc,attr,omitempty"`
	Fonts       *wFonts       `xml:"ofd:Fonts"`
	MultiMedias *wMultiMedias `xml:"ofd:MultiMedias"`
}

type wFonts struct {
	Font []wFont `xml:"ofd:Font"`
}

type wFont struct {
	ID         uint64 `xml:"ID,attr"`
	FontName   string `xml:"FontName,attr"`
	FamilyName string `xml:"FamilyName,attr,omitempty"`
	FontFile   string `xml:"ofd:FontFile,omitempty"`
}

type wMultiMedias struct {
	MultiMedia []wMultiMedia `xml:"ofd:MultiMedia"`
}

type wMultiMedia struct {
	ID        uint64 `xml:"ID,attr"`
	Type      string `xml:"Type,attr"`
	Format    string `xml:"Format,attr,omitempty"`
	MediaFile string `xml:"ofd:MediaFile"`
}

// Pages/Page_N/Content.xml (Page.xsd).
type wPage struct {
	XMLName xml.Name   `xml:"ofd:Page"`
	NS      string     `xml:"xmlns:ofd,attr"`
	Area    *wPageArea `xml:"ofd:Area"`
	Content wContent   `xml:"ofd:Content"`
}

type wContent struct {
	Layer []wLayer `xml:"ofd:Layer"`
}

type wLayer struct {
	ID      uint64 `xml:"ID,attr"`
	Type    string `xml:"Type,attr,omitempty"`
	Objects []any  // *wText, *wPath, *wImage in drawing order
}

type wColor struct {
	Value string `xml:"Value,attr"`
}

// CT_Text: graphic unit attributes, then text attributes; FillColor,
// StrokeColor, TextCode.
type wText struct {
	XMLName   xml.Name    `xml:"ofd:TextObject"`
	ID        uint64      `xml:"ID,attr"`
	Boundary  string      `xml:"Boundary,attr"`
	CTM       string      `xml:"CTM,attr,omitempty"`
	Font      uint64      `xml:"Font,attr"`
	Size      string      `xml:"Size,attr"`
	Weight    string      `xml:"Weight,attr,omitempty"`
	FillColor *wColor     `xml:"ofd:FillColor"`
	TextCode  []wTextCode `xml:"ofd:TextCode"`
}

type wTextCode struct {
	X      string `xml:"X,attr"`
	Y      string `xml:"Y,attr"`
	DeltaX string `xml:"DeltaX,attr,omitempty"`
	DeltaY string `xml:"DeltaY,attr,omitempty"`
	Text   string `xml:",chardata"`
}

// CT_Path: graphic unit attributes (Boundary, CTM, LineWidth), path
// attributes (Stroke, Fill); StrokeColor, FillColor, AbbreviatedData.
type wPath struct {
	XMLName         xml.Name `xml:"ofd:PathObject"`
	ID              uint64   `xml:"ID,attr"`
	Boundary        string   `xml:"Boundary,attr"`
	CTM             string   `xml:"CTM,attr,omitempty"`
	LineWidth       string   `xml:"LineWidth,attr,omitempty"`
	Stroke          string   `xml:"Stroke,attr,omitempty"`
	Fill            string   `xml:"Fill,attr,omitempty"`
	StrokeColor     *wColor  `xml:"ofd:StrokeColor"`
	FillColor       *wColor  `xml:"ofd:FillColor"`
	AbbreviatedData string   `xml:"ofd:AbbreviatedData"`
}

// CT_Image.
type wImage struct {
	XMLName    xml.Name `xml:"ofd:ImageObject"`
	ID         uint64   `xml:"ID,attr"`
	Boundary   string   `xml:"Boundary,attr"`
	CTM        string   `xml:"CTM,attr"`
	ResourceID uint64   `xml:"ResourceID,attr"`
}

// Attachments.xml (Attachments.xsd).
type wAttachments struct {
	XMLName    xml.Name      `xml:"ofd:Attachments"`
	NS         string        `xml:"xmlns:ofd,attr"`
	Attachment []wAttachment `xml:"ofd:Attachment"`
}

type wAttachment struct {
	ID           uint64 `xml:"ID,attr"`
	Name         string `xml:"Name,attr"`
	Format       string `xml:"Format,attr,omitempty"`
	CreationDate string `xml:"CreationDate,attr,omitempty"`
	Size         string `xml:"Size,attr,omitempty"`
	Visible      string `xml:"Visible,attr,omitempty"`
	Usage        string `xml:"Usage,attr,omitempty"`
	FileLoc      string `xml:"ofd:FileLoc"`
}

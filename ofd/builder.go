package ofd

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/jpeg" // image sizes of JPEG resources
	_ "image/png"  // image sizes of PNG resources
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// Info is the document metadata of OFD.xml (DocInfo). Created also
// stamps every zip entry, so that the same input gives the same bytes.
type Info struct {
	DocID          string // 32 hex characters; derived from the content when empty
	Title          string
	Author         string
	Subject        string
	Creator        string // default "baohan"
	CreatorVersion string
	Keywords       []string
	Custom         []CustomData // DocInfo/CustomDatas, in order
	Created        time.Time    // CreationDate and the zip entry times
}

// CustomData is one DocInfo CustomData (Name, value).
type CustomData struct{ Name, Value string }

// FontID and ImageID are resource IDs within a document.
type (
	FontID  uint64
	ImageID uint64
)

// Builder builds one OFD document of one DocBody (Doc_0) in memory.
// Object IDs are allocated in call order, so the same calls give the same
// file. A Builder is not safe for concurrent use.
type Builder struct {
	info     Info
	box      Box
	nextID   uint64
	fonts    []wFont
	fontKey  map[string]FontID
	embedded []*embeddedFont
	// importedFonts are the fonts carried over from imported pages, by
	// the SM3 of their file.
	importedFonts map[string]FontID
	images        []builtImage
	imageKey      map[string]ImageID
	pages         []*PageBuilder
	attach        []builtAttachment
	attachKey     map[string]bool
}

type builtImage struct {
	id     ImageID
	format string
	data   []byte
	file   string // name under Doc_0/Res
}

type builtAttachment struct {
	id      uint64
	name    string
	format  string
	created time.Time
	usage   string
	data    []byte
	file    string // zip name
}

// NewBuilder starts a document with A4 pages.
func NewBuilder(info Info) *Builder {
	if info.Creator == "" {
		info.Creator = "baohan"
	}
	return &Builder{
		info:      info,
		box:       A4,
		fontKey:   map[string]FontID{},
		imageKey:  map[string]ImageID{},
		attachKey: map[string]bool{},
	}
}

// SetPageSize sets the physical box of pages added from now on (the
// document's PageArea is the first page's).
func (b *Builder) SetPageSize(box Box) { b.box = box }

func (b *Builder) id() uint64 {
	b.nextID++
	return b.nextID
}

// Font declares a font by name, without embedding it: readers substitute
// an installed font of that family ("宋体" maps to SimSun, Songti, Noto
// Serif CJK...), and text is positioned by the Advance rule. The same
// name and family give the same ID. EmbedFont carries the font instead.
func (b *Builder) Font(name, family string) FontID {
	key := name + "\x00" + family
	if id, ok := b.fontKey[key]; ok {
		return id
	}
	id := FontID(b.id())
	b.fonts = append(b.fonts, wFont{ID: uint64(id), FontName: name, FamilyName: family})
	b.fontKey[key] = id
	return id
}

// Image adds a PNG or JPEG image resource. The same bytes give the same
// ID.
func (b *Builder) Image(data []byte) (ImageID, error) {
	_, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, errorf("image resource: %v", err)
	}
	format = strings.ToUpper(format) // PNG, JPEG
	sum := sm3.Sum(data)
	key := string(sum[:])
	if id, ok := b.imageKey[key]; ok {
		return id, nil
	}
	id := ImageID(b.id())
	ext := ".png"
	if format == "JPEG" {
		ext = ".jpg"
	}
	b.images = append(b.images, builtImage{id: id, format: format, data: data, file: fmt.Sprintf("image_%d%s", id, ext)})
	b.imageKey[key] = id
	return id, nil
}

// Attachment is a file carried in the document (Attachments.xml).
type Attachment struct {
	ID      uint64    // set by the reader; ignored by Attach
	Name    string    // shown to the user, e.g. "保函委托协议.ofd"
	Format  string    // e.g. "ofd", "pdf"
	Created time.Time // CreationDate; the document's when zero
	Usage   string    // optional
	SizeKB  float64   // set by the reader
	Path    string    // zip name, set by the reader
	Data    []byte    // nil when read from a lazy entry (OpenReaderAtLazy): Package.ReadFile(Path)
}

var safeFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Attach adds an attachment. Names must be unique in the document.
func (b *Builder) Attach(a Attachment) error {
	if strings.TrimSpace(a.Name) == "" {
		return errorf("attachment without a name")
	}
	if b.attachKey[a.Name] {
		return errorf("attachment %q added twice", a.Name)
	}
	b.attachKey[a.Name] = true
	id := b.id()
	ext := strings.ToLower(path.Ext(a.Name))
	if !safeFileName.MatchString(strings.TrimPrefix(ext, ".")) {
		ext = ""
	}
	file := fmt.Sprintf("Doc_0/Attachs/attach_%d%s", id, ext)
	if safeFileName.MatchString(a.Name) {
		file = fmt.Sprintf("Doc_0/Attachs/%d_%s", id, a.Name)
	}
	format := a.Format
	if format == "" {
		format = strings.TrimPrefix(ext, ".")
	}
	b.attach = append(b.attach, builtAttachment{id: id, name: a.Name, format: format, created: a.Created, usage: a.Usage, data: a.Data, file: file})
	return nil
}

// Pages returns the pages added so far.
func (b *Builder) Pages() []*PageBuilder { return b.pages }

// AddPage adds a page of the current page size with one body layer.
func (b *Builder) AddPage() *PageBuilder {
	p := &PageBuilder{b: b, index: len(b.pages), id: b.id(), box: b.box}
	p.layer = b.id()
	b.pages = append(b.pages, p)
	return p
}

// Bytes builds the package and returns the zip bytes.
func (b *Builder) Bytes() ([]byte, error) {
	p, err := b.Package()
	if err != nil {
		return nil, err
	}
	return p.Bytes()
}

// Package builds the package: OFD.xml, Doc_0/Document.xml, PublicRes.xml
// (fonts), DocumentRes.xml (images), one Content.xml per page, the subsets
// of the embedded fonts and the image files under Doc_0/Res,
// Attachments.xml and the attached files under Doc_0/Attachs.
func (b *Builder) Package() (*Package, error) {
	if len(b.pages) == 0 {
		return nil, errorf("document has no pages")
	}
	t := b.info.Created
	pkg := NewPackage()
	var content []*Entry

	add := func(name string, v any) error {
		data, err := marshalXML(v)
		if err != nil {
			return errorf("writing %s: %v", name, err)
		}
		content = append(content, &Entry{Name: name, Data: data, Modified: t})
		return nil
	}

	doc := &wDocument{NS: Namespace}
	doc.CommonData.MaxUnitID = b.nextID
	doc.CommonData.PageArea = wPageArea{PhysicalBox: b.pages[0].box.String(), ApplicationBox: b.pages[0].box.String()}
	doc.CommonData.PublicRes = []string{"PublicRes.xml"}
	if len(b.images) > 0 {
		doc.CommonData.DocumentRes = []string{"DocumentRes.xml"}
	}
	for i, p := range b.pages {
		doc.Pages.Page = append(doc.Pages.Page, wPageRef{ID: p.id, BaseLoc: fmt.Sprintf("Pages/Page_%d/Content.xml", i)})
	}
	if len(b.attach) > 0 {
		doc.Attachments = "/Doc_0/Attachments.xml"
	}
	if err := add("Doc_0/Document.xml", doc); err != nil {
		return nil, err
	}

	pub := &wRes{NS: Namespace, BaseLoc: "Res"}
	fontFiles, err := b.fontFiles()
	if err != nil {
		return nil, err
	}
	if len(b.fonts) > 0 {
		pub.Fonts = &wFonts{Font: append([]wFont(nil), b.fonts...)}
		for i, f := range pub.Fonts.Font {
			if e := b.embeddedFont(FontID(f.ID)); e != nil {
				pub.Fonts.Font[i].FontFile = e.file
			}
		}
	}
	if err := add("Doc_0/PublicRes.xml", pub); err != nil {
		return nil, err
	}
	if len(b.images) > 0 {
		res := &wRes{NS: Namespace, BaseLoc: "Res", MultiMedias: &wMultiMedias{}}
		for _, im := range b.images {
			res.MultiMedias.MultiMedia = append(res.MultiMedias.MultiMedia, wMultiMedia{ID: uint64(im.id), Type: "Image", Format: im.format, MediaFile: im.file})
		}
		if err := add("Doc_0/DocumentRes.xml", res); err != nil {
			return nil, err
		}
	}
	for i, p := range b.pages {
		wp := &wPage{NS: Namespace}
		if p.box != b.pages[0].box {
			wp.Area = &wPageArea{PhysicalBox: p.box.String()}
		}
		wp.Content.Layer = []wLayer{{ID: p.layer, Type: "Body", Objects: p.objects}}
		if err := add(fmt.Sprintf("Doc_0/Pages/Page_%d/Content.xml", i), wp); err != nil {
			return nil, err
		}
	}
	for _, e := range b.embedded {
		content = append(content, &Entry{Name: "Doc_0/Res/" + e.file, Data: fontFiles[e.id], Modified: t})
	}
	for _, im := range b.images {
		content = append(content, &Entry{Name: "Doc_0/Res/" + im.file, Data: im.data, Modified: t})
	}
	if len(b.attach) > 0 {
		at := &wAttachments{NS: Namespace}
		for _, a := range b.attach {
			created := a.created
			if created.IsZero() {
				created = t
			}
			at.Attachment = append(at.Attachment, wAttachment{
				ID: a.id, Name: a.name, Format: a.format,
				CreationDate: created.Format("2006-01-02T15:04:05"),
				Size:         Num(float64(len(a.data)) / 1024),
				Usage:        a.usage,
				FileLoc:      "/" + a.file,
			})
		}
		if err := add("Doc_0/Attachments.xml", at); err != nil {
			return nil, err
		}
		for _, a := range b.attach {
			content = append(content, &Entry{Name: a.file, Data: a.data, Modified: t})
		}
	}

	info := b.info
	if info.DocID == "" {
		h := sm3.New()
		for _, e := range content {
			h.Write([]byte(e.Name))
			h.Write(e.Data)
		}
		info.DocID = hex.EncodeToString(h.Sum(nil)[:16])
	}
	root := &wOFD{NS: Namespace, Version: "1.0", DocType: "OFD", DocBody: []*wDocBody{{
		DocInfo: wDocInfo{
			DocID:          info.DocID,
			Title:          info.Title,
			Author:         info.Author,
			Subject:        info.Subject,
			Creator:        info.Creator,
			CreatorVersion: info.CreatorVersion,
		},
		DocRoot: "Doc_0/Document.xml",
	}}}
	if !t.IsZero() {
		root.DocBody[0].DocInfo.CreationDate = t.Format("2006-01-02")
	}
	if len(info.Keywords) > 0 {
		root.DocBody[0].DocInfo.Keywords = &wKeywords{Keyword: info.Keywords}
	}
	if len(info.Custom) > 0 {
		cd := &wCustomDatas{}
		for _, c := range info.Custom {
			cd.CustomData = append(cd.CustomData, wCustomData{Name: c.Name, Value: c.Value})
		}
		root.DocBody[0].DocInfo.CustomDatas = cd
	}
	ofdXML, err := marshalXML(root)
	if err != nil {
		return nil, errorf("writing OFD.xml: %v", err)
	}
	if err := pkg.Add("OFD.xml", ofdXML, t); err != nil {
		return nil, err
	}
	for _, e := range content {
		if err := pkg.Add(e.Name, e.Data, e.Modified); err != nil {
			return nil, err
		}
	}
	return pkg, nil
}

package ofd

import (
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Document is the first document (DocBody) of an OFD package as read:
// metadata, resources, pages with their text, image and path objects,
// attachments and the list of signatures. It points into the package's
// bytes; nothing is re-serialized.
type Document struct {
	Package      *Package
	Version      string // OFD.xml Version
	DocBodies    int    // DocBody elements in OFD.xml (only the first is read)
	Info         DocInfo
	Root         string // zip name of Document.xml
	PhysicalBox  Box
	MaxUnitID    uint64
	Fonts        map[uint64]*Font
	Media        map[uint64]*Media
	Pages        []*Page
	Attachments  []*Attachment
	Signatures   string // zip name of Signatures.xml, "" when unsigned
	SignatureRef []SignatureRef
}

// DocInfo is the metadata of OFD.xml.
type DocInfo struct {
	DocID, Title, Author, Subject string
	CreationDate, ModDate         string
	Creator, CreatorVersion       string
	Keywords                      []string
	Custom                        []CustomData
}

// Font is a font resource.
type Font struct {
	ID         uint64
	Name       string
	Family     string
	Bold       bool
	Embedded   string // zip name of an embedded font file, if any
	sourceFile string
}

// Media is a multimedia resource (images).
type Media struct {
	ID     uint64
	Type   string // "Image"
	Format string // "PNG", "JPEG"...
	Path   string // zip name
}

// Page is one page: its ID (what StampAnnot PageRef names), its entry,
// its box and its objects in drawing order.
type Page struct {
	ID          uint64
	Path        string
	Box         Box
	Objects     []Object
	Unsupported []string // element names in the content that were skipped
}

// Object is a *TextObject, *PathObject or *ImageObject.
type Object interface{ objectID() uint64 }

// TextObject is a run of text.
type TextObject struct {
	ID       uint64
	Boundary Box
	CTM      *Matrix
	Font     uint64
	Size     float64
	Bold     bool
	Color    Color
	Codes    []TextCode
}

// TextCode is text positioned from (X, Y) relative to the boundary, one
// DeltaX (DeltaY) advance between consecutive characters.
type TextCode struct {
	X, Y   float64
	DeltaX []float64
	DeltaY []float64
	Text   string
}

// PathObject is a vector path.
type PathObject struct {
	ID          uint64
	Boundary    Box
	CTM         *Matrix
	LineWidth   float64
	Stroke      bool
	Fill        bool
	StrokeColor Color
	FillColor   Color
	Data        string // AbbreviatedData, relative to the boundary
}

// ImageObject draws a multimedia resource: the unit square mapped by CTM
// into the boundary's coordinates.
type ImageObject struct {
	ID         uint64
	Boundary   Box
	CTM        Matrix
	ResourceID uint64
}

func (o *TextObject) objectID() uint64  { return o.ID }
func (o *PathObject) objectID() uint64  { return o.ID }
func (o *ImageObject) objectID() uint64 { return o.ID }

// Text returns the text of the object's codes, concatenated.
func (o *TextObject) Text() string {
	var b strings.Builder
	for _, c := range o.Codes {
		b.WriteString(c.Text)
	}
	return b.String()
}

// SignatureRef is one entry of Signatures.xml.
type SignatureRef struct {
	ID      string
	Type    string // "Seal" or "Sign"; "" means Seal
	BaseLoc string // as written
	Path    string // zip name of Signature.xml
}

// readOFDXML parses the package's entry point OFD.xml, which must list a
// document (DocBody).
func readOFDXML(p *Package) (*rOFD, error) {
	raw, ok := p.File("OFD.xml")
	if !ok {
		return nil, errorf("no OFD.xml entry: not an OFD package")
	}
	var o rOFD
	if err := unmarshalXML("OFD.xml", raw, &o); err != nil {
		return nil, err
	}
	if len(o.DocBody) == 0 {
		return nil, errorf("OFD.xml: no DocBody")
	}
	return &o, nil
}

// Read parses the first document of a package. Errors name the entry.
func Read(p *Package) (*Document, error) {
	o, err := readOFDXML(p)
	if err != nil {
		return nil, err
	}
	body := o.DocBody[0]
	d := &Document{
		Package:   p,
		Version:   o.Version,
		DocBodies: len(o.DocBody),
		Fonts:     map[uint64]*Font{},
		Media:     map[uint64]*Media{},
		Info: DocInfo{
			DocID: strings.TrimSpace(body.DocInfo.DocID), Title: body.DocInfo.Title, Author: body.DocInfo.Author,
			Subject: body.DocInfo.Subject, CreationDate: body.DocInfo.CreationDate, ModDate: body.DocInfo.ModDate,
			Creator: body.DocInfo.Creator, CreatorVersion: body.DocInfo.CreatorVersion, Keywords: body.DocInfo.Keywords,
		},
	}
	for _, c := range body.DocInfo.CustomData {
		d.Info.Custom = append(d.Info.Custom, CustomData{Name: c.Name, Value: c.Value})
	}
	root, err := p.resolveIn("OFD.xml", body.DocRoot)
	if err != nil {
		return nil, errorf("OFD.xml DocRoot: %v", err)
	}
	d.Root = root
	docXML, ok := p.File(root)
	if !ok {
		return nil, errorf("OFD.xml DocRoot %q: no entry %s", body.DocRoot, root)
	}
	var rd rDocument
	if err := unmarshalXML(root, docXML, &rd); err != nil {
		return nil, err
	}
	d.MaxUnitID = rd.CommonData.MaxUnitID
	d.PhysicalBox = A4
	if s := strings.TrimSpace(rd.CommonData.PageArea.PhysicalBox); s != "" {
		b, err := ParseBox(s)
		if err != nil {
			return nil, errorf("%s PhysicalBox: %v", root, err)
		}
		d.PhysicalBox = b
	}
	for _, loc := range append(append([]string{}, rd.CommonData.PublicRes...), rd.CommonData.DocumentRes...) {
		if err := d.readRes(root, loc); err != nil {
			return nil, err
		}
	}
	for _, pg := range rd.Pages {
		page, err := d.readPage(root, pg.ID, pg.BaseLoc)
		if err != nil {
			return nil, err
		}
		d.Pages = append(d.Pages, page)
	}
	if rd.Attachments != "" {
		if err := d.readAttachments(root, rd.Attachments); err != nil {
			return nil, err
		}
	}
	if s := strings.TrimSpace(body.Signatures); s != "" {
		name, err := p.resolveIn("OFD.xml", s)
		if err != nil {
			return nil, errorf("OFD.xml Signatures: %v", err)
		}
		d.Signatures = name
		if raw, ok := p.File(name); ok {
			sigs, err := ParseSignatures(raw)
			if err != nil {
				return nil, errorf("%s: %v", name, err)
			}
			for _, s := range sigs.Signatures {
				ref := SignatureRef{ID: s.ID, Type: s.Type, BaseLoc: s.BaseLoc}
				ref.Path, err = p.resolveIn(name, s.BaseLoc)
				if err != nil {
					return nil, errorf("%s signature %s: %v", name, s.ID, err)
				}
				d.SignatureRef = append(d.SignatureRef, ref)
			}
		}
	}
	return d, nil
}

func (d *Document) readRes(from, loc string) error {
	name, err := d.Package.resolveIn(from, loc)
	if err != nil {
		return errorf("%s resource: %v", from, err)
	}
	raw, ok := d.Package.File(name)
	if !ok {
		return errorf("%s: resource %q: no entry %s", from, loc, name)
	}
	var r rRes
	if err := unmarshalXML(name, raw, &r); err != nil {
		return err
	}
	// Files of the resource are relative to BaseLoc, itself relative to
	// the resource file.
	base := name
	if r.BaseLoc != "" {
		dir, err := Resolve(name, strings.TrimSuffix(r.BaseLoc, "/")+"/x")
		if err != nil {
			return errorf("%s BaseLoc: %v", name, err)
		}
		base = dir
	}
	for _, f := range r.Fonts {
		font := &Font{ID: f.ID, Name: f.FontName, Family: f.FamilyName, Bold: f.Bold == "true", sourceFile: name}
		if f.FontFile != "" {
			font.Embedded, _ = d.resolveResFile(base, name, f.FontFile)
		}
		d.Fonts[f.ID] = font
	}
	for _, m := range r.MultiMedia {
		p, err := d.resolveResFile(base, name, m.MediaFile)
		if err != nil {
			return errorf("%s MultiMedia %d: %v", name, m.ID, err)
		}
		d.Media[m.ID] = &Media{ID: m.ID, Type: m.Type, Format: m.Format, Path: p}
	}
	return nil
}

// resolveResFile finds a resource file: relative to BaseLoc, then to the
// resource file itself, then to the package root.
func (d *Document) resolveResFile(base, resFile, loc string) (string, error) {
	name, err := Resolve(base, loc)
	if err != nil {
		return "", err
	}
	if d.Package.Has(name) {
		return name, nil
	}
	return d.Package.resolveIn(resFile, loc)
}

func (d *Document) readPage(from string, id uint64, loc string) (*Page, error) {
	name, err := d.Package.resolveIn(from, loc)
	if err != nil {
		return nil, errorf("%s page %d: %v", from, id, err)
	}
	raw, ok := d.Package.File(name)
	if !ok {
		return nil, errorf("%s: page %d %q: no entry %s", from, id, loc, name)
	}
	var rp rPage
	if err := unmarshalXML(name, raw, &rp); err != nil {
		return nil, err
	}
	pg := &Page{ID: id, Path: name, Box: d.PhysicalBox}
	if rp.Area != nil && strings.TrimSpace(rp.Area.PhysicalBox) != "" {
		b, err := ParseBox(rp.Area.PhysicalBox)
		if err != nil {
			return nil, errorf("%s Area: %v", name, err)
		}
		pg.Box = b
	}
	if len(rp.Template) > 0 {
		pg.Unsupported = append(pg.Unsupported, "Template")
	}
	for _, l := range rp.Content.Layer {
		pg.Unsupported = append(pg.Unsupported, l.Unsupported...)
		for _, o := range l.Objects {
			obj, err := convertObject(o)
			if err != nil {
				return nil, errorf("%s: %v", name, err)
			}
			if obj != nil {
				pg.Objects = append(pg.Objects, obj)
			}
		}
	}
	return pg, nil
}

func convertObject(o any) (Object, error) {
	switch v := o.(type) {
	case *rText:
		if v.Visible == "false" {
			return nil, nil
		}
		b, err := ParseBox(v.Boundary)
		if err != nil {
			return nil, errorf("TextObject %d: %v", v.ID, err)
		}
		t := &TextObject{ID: v.ID, Boundary: b, Font: v.Font, Size: v.Size, Bold: parseUint(v.Weight) >= 600}
		if math.IsNaN(t.Size) || math.IsInf(t.Size, 0) || t.Size < 0 {
			return nil, errorf("TextObject %d: bad Size", v.ID)
		}
		if v.CTM != "" {
			m, err := ParseMatrix(v.CTM)
			if err != nil {
				return nil, errorf("TextObject %d: %v", v.ID, err)
			}
			t.CTM = &m
		}
		if v.FillColor != nil {
			c, err := ParseColor(v.FillColor.Value)
			if err != nil {
				return nil, errorf("TextObject %d: %v", v.ID, err)
			}
			t.Color = c
		}
		// A TextCode without X or Y continues from the previous one.
		var lastX, lastY float64
		for _, c := range v.TextCode {
			tc := TextCode{Text: c.Text, X: lastX, Y: lastY}
			if c.X != nil {
				tc.X = *c.X
			}
			if c.Y != nil {
				tc.Y = *c.Y
			}
			if math.IsNaN(tc.X) || math.IsInf(tc.X, 0) || math.IsNaN(tc.Y) || math.IsInf(tc.Y, 0) {
				return nil, errorf("TextObject %d: bad TextCode position", v.ID)
			}
			var err error
			if tc.DeltaX, err = ParseDeltas(c.DeltaX); err != nil {
				return nil, errorf("TextObject %d: %v", v.ID, err)
			}
			if tc.DeltaY, err = ParseDeltas(c.DeltaY); err != nil {
				return nil, errorf("TextObject %d: %v", v.ID, err)
			}
			t.Codes = append(t.Codes, tc)
			lastX, lastY = tc.X, tc.Y
		}
		return t, nil
	case *rPath:
		if v.Visible == "false" {
			return nil, nil
		}
		b, err := ParseBox(v.Boundary)
		if err != nil {
			return nil, errorf("PathObject %d: %v", v.ID, err)
		}
		p := &PathObject{ID: v.ID, Boundary: b, Stroke: v.Stroke != "false", Fill: v.Fill == "true", LineWidth: 0.353, Data: v.AbbreviatedData}
		if v.LineWidth != "" {
			f, err := parseFloats(v.LineWidth)
			if err != nil || len(f) != 1 || f[0] < 0 {
				return nil, errorf("PathObject %d: bad LineWidth %q", v.ID, v.LineWidth)
			}
			p.LineWidth = f[0]
		}
		if v.CTM != "" {
			m, err := ParseMatrix(v.CTM)
			if err != nil {
				return nil, errorf("PathObject %d: %v", v.ID, err)
			}
			p.CTM = &m
		}
		if v.StrokeColor != nil {
			if p.StrokeColor, err = ParseColor(v.StrokeColor.Value); err != nil {
				return nil, errorf("PathObject %d: %v", v.ID, err)
			}
		}
		if v.FillColor != nil {
			if p.FillColor, err = ParseColor(v.FillColor.Value); err != nil {
				return nil, errorf("PathObject %d: %v", v.ID, err)
			}
		}
		return p, nil
	case *rImage:
		if v.Visible == "false" {
			return nil, nil
		}
		b, err := ParseBox(v.Boundary)
		if err != nil {
			return nil, errorf("ImageObject %d: %v", v.ID, err)
		}
		im := &ImageObject{ID: v.ID, Boundary: b, ResourceID: v.ResourceID, CTM: Matrix{b.W, 0, 0, b.H, 0, 0}}
		if v.CTM != "" {
			if im.CTM, err = ParseMatrix(v.CTM); err != nil {
				return nil, errorf("ImageObject %d: %v", v.ID, err)
			}
		}
		return im, nil
	}
	return nil, nil
}

func (d *Document) readAttachments(from, loc string) error {
	name, err := d.Package.resolveIn(from, loc)
	if err != nil {
		return errorf("%s Attachments: %v", from, err)
	}
	raw, ok := d.Package.File(name)
	if !ok {
		return errorf("%s: Attachments %q: no entry %s", from, loc, name)
	}
	var ra rAttachments
	if err := unmarshalXML(name, raw, &ra); err != nil {
		return err
	}
	for _, a := range ra.Attachment {
		file, err := d.Package.resolveIn(name, a.FileLoc)
		if err != nil {
			return errorf("%s attachment %q: %v", name, a.Name, err)
		}
		var data []byte
		if e := d.Package.entry(file); e == nil {
			return errorf("%s: attachment %q: no entry %s", name, a.Name, file)
		} else if !e.Lazy() {
			data = e.Data
		} // a lazy attachment stays in the zip: Package.ReadFile(Path)
		size, _ := strconv.ParseFloat(strings.TrimSpace(a.Size), 64)
		d.Attachments = append(d.Attachments, &Attachment{
			ID: parseUint(a.ID), Name: a.Name, Format: a.Format, Usage: a.Usage,
			Created: parseAttachmentDate(a.CreationDate), SizeKB: size, Path: file, Data: data,
		})
	}
	return nil
}

// PageByID finds a page by its ID.
func (d *Document) PageByID(id uint64) (*Page, int) {
	for i, p := range d.Pages {
		if p.ID == id {
			return p, i
		}
	}
	return nil, -1
}

// MediaData returns the bytes of an image resource.
func (d *Document) MediaData(id uint64) ([]byte, *Media, bool) {
	m, ok := d.Media[id]
	if !ok {
		return nil, nil, false
	}
	b, ok := d.Package.File(m.Path)
	return b, m, ok
}

// Attachment finds an attachment by name.
func (d *Document) Attachment(name string) (*Attachment, bool) {
	for _, a := range d.Attachments {
		if a.Name == name {
			return a, true
		}
	}
	return nil, false
}

// Text returns the page's text, one line per row of text objects (objects
// whose baselines are within half a font size are one row, left to
// right).
func (p *Page) Text() string {
	type run struct {
		x, y, size float64
		s          string
	}
	var runs []run
	for _, o := range p.Objects {
		t, ok := o.(*TextObject)
		if !ok {
			continue
		}
		for _, c := range t.Codes {
			x, y := t.Boundary.X+c.X, t.Boundary.Y+c.Y
			if t.CTM != nil {
				x, y = t.CTM.Apply(c.X, c.Y)
				x, y = x+t.Boundary.X, y+t.Boundary.Y
			}
			runs = append(runs, run{x, y, t.Size, c.Text})
		}
	}
	// Rows: runs sorted by baseline, a new row when the baseline moves by
	// more than half a font size; each row left to right.
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].y < runs[j].y })
	var rows [][]run
	for _, r := range runs {
		if n := len(rows); n > 0 {
			first := rows[n-1][0]
			if r.y-first.y <= math.Max(r.size, first.size)/2 {
				rows[n-1] = append(rows[n-1], r)
				continue
			}
		}
		rows = append(rows, []run{r})
	}
	var b strings.Builder
	for i, row := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		sort.SliceStable(row, func(i, j int) bool { return row[i].x < row[j].x })
		for k, r := range row {
			if k > 0 {
				prev := row[k-1]
				if r.x-(prev.x+Measure(prev.s, prev.size)) > prev.size {
					b.WriteByte(' ')
				}
			}
			b.WriteString(r.s)
		}
	}
	return b.String()
}

// Text returns the text of every page, pages separated by a form feed
// line.
func (d *Document) Text() string {
	var parts []string
	for _, p := range d.Pages {
		parts = append(parts, p.Text())
	}
	return strings.Join(parts, "\n\f\n")
}

// Dir is the directory of the document's root ("Doc_0").
func (d *Document) Dir() string { return path.Dir(d.Root) }

package ofd

import (
	"strings"
	"time"
)

// ImportPage copies a page of a read document into the builder: its text,
// path and image objects in drawing order, with new object IDs and the
// fonts and images re-declared here. Text keeps its positions; a font
// carried in the source goes on with it (onto a font embedded here when
// that one has the same family and advances, see EmbedFont). A page holding content this package
// does not read (templates, composite objects, annotations...) is refused
// rather than copied incompletely.
func (b *Builder) ImportPage(d *Document, pg *Page) (*PageBuilder, error) {
	if len(pg.Unsupported) > 0 {
		return nil, errorf("page %d (%s) holds %s, which cannot be copied", pg.ID, pg.Path, strings.Join(pg.Unsupported, ", "))
	}
	saved := b.box
	b.box = pg.Box
	p := b.AddPage()
	b.box = saved
	for _, o := range pg.Objects {
		switch o := o.(type) {
		case *TextObject:
			f := d.Fonts[o.Font]
			if f == nil {
				return nil, errorf("page %d: text object %d uses undeclared font %d", pg.ID, o.ID, o.Font)
			}
			text := o.Text()
			font := b.importFont(d, f, text)
			b.use(font, text)
			t := &wText{ID: b.id(), Boundary: o.Boundary.String(), Font: uint64(font), Size: Num(o.Size)}
			if o.CTM != nil {
				t.CTM = o.CTM.String()
			}
			if o.Bold {
				t.Weight = "700"
			}
			if o.Color != Black {
				t.FillColor = &wColor{Value: o.Color.String()}
			}
			for _, c := range o.Codes {
				t.TextCode = append(t.TextCode, wTextCode{X: Num(c.X), Y: Num(c.Y), DeltaX: FormatDeltas(c.DeltaX), DeltaY: FormatDeltas(c.DeltaY), Text: c.Text})
			}
			p.objects = append(p.objects, t)
		case *PathObject:
			w := &wPath{ID: b.id(), Boundary: o.Boundary.String(), LineWidth: Num(o.LineWidth), AbbreviatedData: o.Data}
			if o.CTM != nil {
				w.CTM = o.CTM.String()
			}
			if !o.Stroke {
				w.Stroke = "false"
			} else if o.StrokeColor != Black {
				w.StrokeColor = &wColor{Value: o.StrokeColor.String()}
			}
			if o.Fill {
				w.Fill = "true"
				w.FillColor = &wColor{Value: o.FillColor.String()}
			}
			p.objects = append(p.objects, w)
		case *ImageObject:
			data, _, ok := d.MediaData(o.ResourceID)
			if !ok {
				return nil, errorf("page %d: image object %d: resource %d missing", pg.ID, o.ID, o.ResourceID)
			}
			id, err := b.Image(data)
			if err != nil {
				return nil, errorf("page %d: image object %d: %v", pg.ID, o.ID, err)
			}
			p.objects = append(p.objects, &wImage{ID: b.id(), Boundary: o.Boundary.String(), CTM: o.CTM.String(), ResourceID: uint64(id)})
		}
	}
	return p, nil
}

// ImportAttachments copies the attachments of a read document.
func (b *Builder) ImportAttachments(d *Document) error {
	for _, a := range d.Attachments {
		c := *a
		c.ID, c.Path = 0, ""
		if err := b.Attach(c); err != nil {
			return err
		}
	}
	return nil
}

// parseAttachmentDate reads an Attachment CreationDate (xs:dateTime or a
// date); unreadable dates give the zero time.
func parseAttachmentDate(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.FixedZone("CST", 8*3600)); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Rebuild builds a new package from a read document: its metadata, every
// page and every attachment, plus extra attachments. Signatures are not
// carried (they would not verify against new bytes), so Rebuild refuses a
// signed document: attach and merge before sealing.
func Rebuild(d *Document, extra []Attachment, created time.Time) (*Package, error) {
	if len(d.SignatureRef) > 0 {
		return nil, errorf("the document is signed (%d signatures): changing it would break them", len(d.SignatureRef))
	}
	b := NewBuilder(Info{
		DocID: d.Info.DocID, Title: d.Info.Title, Author: d.Info.Author, Subject: d.Info.Subject,
		Creator: d.Info.Creator, CreatorVersion: d.Info.CreatorVersion, Keywords: d.Info.Keywords,
		Custom: d.Info.Custom, Created: created,
	})
	b.SetPageSize(d.PhysicalBox)
	for _, pg := range d.Pages {
		if _, err := b.ImportPage(d, pg); err != nil {
			return nil, err
		}
	}
	if err := b.ImportAttachments(d); err != nil {
		return nil, err
	}
	for _, a := range extra {
		if err := b.Attach(a); err != nil {
			return nil, err
		}
	}
	return b.Package()
}

package protocol

import (
	"reflect"
	"strings"
	"testing"
)

func TestInterfaces(t *testing.T) {
	if len(Interfaces) != 14 {
		t.Fatalf("%d interfaces", len(Interfaces))
	}
	want := map[Interface]Side{
		BaohanApply: Institution, BaohanNotice: Platform, DownloadPublicKey: Platform,
		UploadBaohanFile: Platform, BaohanFileCompleteNotice: Platform, BaohanRestore: Institution,
		InvoiceApply: Institution, InvoiceNotice: Platform, QuitApply: Institution,
		QuitNotice: Platform, CancelNotice: Institution, ClaimsNotice: Institution,
		GiveupApply: Institution, GiveupNotice: Platform,
	}
	for _, i := range Interfaces {
		if i.ServedBy() != want[i] {
			t.Errorf("%s served by %s, want %s", i, i.ServedBy(), want[i])
		}
		if i.CalledBy() == i.ServedBy() {
			t.Errorf("%s called by its server", i)
		}
		if got, ok := Lookup(string(i)); !ok || got != i {
			t.Errorf("Lookup(%s)", i)
		}
		if i.Title() == "" {
			t.Errorf("%s has no title", i)
		}
	}
	if string(CancelNotice) != "canclenotice" {
		t.Fatal("the spec spells it canclenotice")
	}
	for _, bad := range []string{"cancelnotice", "BaohanApply", "", "baohanapply/"} {
		if _, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) succeeded", bad)
		}
	}
	if i, ok := Suggest("cancelnotice"); !ok || i != CancelNotice {
		t.Error("Suggest(cancelnotice)")
	}
	if i, ok := Suggest("BaohanApply"); !ok || i != BaohanApply {
		t.Error("Suggest(BaohanApply)")
	}
	if _, ok := Suggest("nope"); ok {
		t.Error("Suggest(nope)")
	}
	if n := len(ServedBySide(Platform)) + len(ServedBySide(Institution)); n != 14 {
		t.Errorf("sides cover %d interfaces", n)
	}
	if Interface("x").ServedBy() != "" || Interface("x").CalledBy() != "" {
		t.Error("unknown interface has a side")
	}
}

// TestSpecStructs: each request struct has exactly the fields of its
// table, all strings, json tags = wire names.
func TestSpecStructs(t *testing.T) {
	check := func(name string, typ reflect.Type, fields []Field) {
		tags := map[string]bool{}
		for k := 0; k < typ.NumField(); k++ {
			sf := typ.Field(k)
			if sf.Type.Kind() != reflect.String {
				t.Errorf("%s.%s is not a string", name, sf.Name)
			}
			tag := sf.Tag.Get("json")
			if tag == "" || strings.Contains(tag, ",") {
				t.Errorf("%s.%s has json tag %q", name, sf.Name, tag)
			}
			tags[tag] = true
		}
		for _, f := range fields {
			if !tags[f.Name] {
				t.Errorf("%s lacks field %q", name, f.Name)
			}
			delete(tags, f.Name)
		}
		for tag := range tags {
			t.Errorf("%s has field %q not in the table", name, tag)
		}
	}
	for _, i := range Interfaces {
		s := SpecOf(i)
		check(string(i), reflect.TypeOf(s.Request), s.Fields)
		if reflect.TypeOf(s.New()).Elem() != reflect.TypeOf(s.Request) {
			t.Errorf("%s: New returns %T", i, s.New())
		}
		for _, f := range s.Fields {
			if f.Name != "sign" && f.Name != "appkey" && f.Name != "timestamp" && f.Meaning == "" {
				t.Errorf("%s.%s has no meaning", i, f.Name)
			}
			if f.Kind == Enum && len(f.Enum) == 0 {
				t.Errorf("%s.%s is an enum without values", i, f.Name)
			}
		}
		if s.Field("sign") == nil || s.Field("appkey") == nil || s.Field("timestamp") == nil {
			t.Errorf("%s lacks appkey, timestamp or sign", i)
		}
	}
	check("applydata", reflect.TypeOf(ApplyData{}), ApplyDataFields)
}

// TestSpecTable pins the tables to the spec: field, max length, required.
func TestSpecTable(t *testing.T) {
	want := map[Interface]string{
		BaohanApply:              "appkey 50 y, timestamp 30 y, platformcode 50 y, applyno 50 y, applydata 2000 y, digitalenvelope 200 y, sign 200 y",
		BaohanNotice:             "appkey 50 y, timestamp 30 y, applyno 50 y, baohanno 50 y, payername 200 n, payeraccount 50 n, instname 200 y, generatetime 30 y, rate 50 y, cost 50 y, applystatus 10 y, sign 200 y",
		DownloadPublicKey:        "appkey 50 y, timestamp 30 y, applyno 50 y, bak1 200 n, bak2 200 n, sign 200 y",
		UploadBaohanFile:         "appkey 50 y, timestamp 30 y, applyno 50 y, baohanno 50 y, baohanfile 0 y, filetype 50 y, index 30 y, bak1 200 n, bak2 200 n, sign 200 y",
		BaohanFileCompleteNotice: "appkey 50 y, timestamp 30 y, applyno 50 y, baohanno 50 y, key 200 y, iv 200 y, baohanfilemd5 200 y, filetype 50 y, bak1 200 n, bak2 200 n, sign 200 y",
		BaohanRestore:            "appkey 50 y, timestamp 30 y, platformcode 50 y, applyno 50 y, baohanno 50 y, kaibiaotime 30 y, key 200 y, sign 200 y",
		InvoiceApply:             "appkey 50 y, timestamp 30 y, platformcode 50 y, applyno 50 y, baohanno 50 y, biddername 200 y, biddercode 50 y, amount 50 y, type 10 y, address 500 n, phone 50 n, bank 200 n, account 50 n, email 100 n, mobile 50 n, contactname 50 n, contactaddress 500 n, sign 200 y",
		InvoiceNotice:            "appkey 50 y, timestamp 30 y, baohanno 50 y, invoiceurl 1000 n, invoicecode 50 n, invoiceno 50 n, applystatus 10 y, sign 200 y",
		QuitApply:                "appkey 50 y, timestamp 30 y, platformcode 50 y, applyno 50 y, baohanno 50 y, reason 500 y, sign 200 y",
		QuitNotice:               "appkey 50 y, timestamp 30 y, applyno 50 y, baohanno 50 y, applystatus 10 y, tuibaotime 50 n, sign 200 y",
		CancelNotice:             "appkey 50 y, timestamp 30 y, platformcode 50 y, applyno 50 y, baohanno 50 y, sign 200 y",
		ClaimsNotice:             "appkey 50 y, timestamp 30 y, platformcode 50 y, applyno 50 y, baohanno 50 y, payeraccount 50 n, payeramount 50 n, applyusername 200 y, applyuserphone 50 y, reason 500 n, filelist 0 n, sign 200 y",
		GiveupApply:              "appkey 50 y, timestamp 30 y, platformcode 50 y, applyno 50 y, sign 200 y",
		GiveupNotice:             "appkey 50 y, timestamp 30 y, applyno 50 y, sign 200 y",
	}
	table := func(fs []Field) string {
		var parts []string
		for _, f := range fs {
			r := "n"
			if f.Required {
				r = "y"
			}
			parts = append(parts, f.Name+" "+itoa(f.Max)+" "+r)
		}
		return strings.Join(parts, ", ")
	}
	for _, i := range Interfaces {
		if got := table(SpecOf(i).Fields); got != want[i] {
			t.Errorf("%s:\n got %s\nwant %s", i, got, want[i])
		}
	}
	if got := table(ApplyDataFields); got != "biddername 200 y, biddercode 50 y, biaoduanno 500 y, biaoduanname 1000 y, bzjamount 50 y, zbr 500 y, zbrorgnum 200 n" {
		t.Errorf("applydata: %s", got)
	}
}

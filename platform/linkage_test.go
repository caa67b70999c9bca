package platform

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/gm"
)

// What the institution sees of an application's section before the
// opening: the four project fields as SM4-ECB ciphertexts (under a key of
// the application's own, so the bytes link nothing) and bzjamount in the
// clear. SM4-ECB with PKCS#7 makes a ciphertext 16·(⌊n/16⌋+1) bytes for n
// bytes of plaintext, so its length tells the plaintext's length to the
// block; every bidder of a section carries the same lengths and the same
// bond. PKCS#7 pads by one to sixteen bytes (a peer's unpadding refuses
// more), and the institution must decrypt exactly the section's fields at
// the restore, so nothing on the wire can hide the lengths.
//
// TestProjectFieldLengthLinkage measures how much that tells on a model of
// the sections a trading centre has open at once; the figures are the
// ones docs/SECURITY.md quotes (go test -run TestProjectFieldLengthLinkage
// -v ./platform prints them).

// lengthTuple is what an application shows of its section: the base64
// lengths of the four project fields (0: the optional zbrorgnum not sent)
// and the bond.
type lengthTuple struct {
	no, name, zbr, orgnum int
	bond                  string
}

// ciphertextLen is the length of the field as applydata carries it.
func ciphertextLen(t testing.TB, key []byte, v string) int {
	if v == "" {
		return 0
	}
	ct, err := gm.EncryptField(key, v)
	if err != nil {
		t.Fatal(err)
	}
	return len(ct)
}

func tupleOf(t testing.TB, key []byte, sec *Section) lengthTuple {
	return lengthTuple{ciphertextLen(t, key, sec.No), ciphertextLen(t, key, sec.Name), ciphertextLen(t, key, sec.Tenderer),
		ciphertextLen(t, key, sec.TendererCode), sec.BondAmount.StringFixed(2)}
}

// The model. Section numbers are the platform's, of one fixed format
// (lengths then tell nothing); names, tenderers and bonds are drawn from
// the shapes Chinese construction tenders take: a place, a subject, a
// kind of work, now and then a phase or a lot; a tenderer is a place and
// a public body or a state-owned company; the bond is a round sum or 2%
// of the estimated price (招标投标法实施条例 §26), at most 800 000 yuan.
var (
	modelPlaces = []string{"城南", "城北", "滨江区", "西湖区", "上城区", "拱墅区", "临平新城", "高新区", "北部新区", "湾区新城",
		"钱塘区下沙街道", "余杭区良渚街道", "富阳区银湖街道", "临安区青山湖街道", "淳安县千岛湖镇", "萧山经济技术开发区",
		"大江东产业集聚区", "桐庐县", "建德市", "老城区", "市本级", "经济开发区", "新塘街道", "东部新城核心区"}
	modelSubjects = []string{"污水处理厂提标改造", "第二中学新建", "人民医院门诊综合楼", "九年一贯制学校", "道路及配套管网",
		"老旧小区综合改造", "河道综合整治", "安置房", "农村饮用水达标提升", "体育中心", "图书馆改扩建", "综合管廊", "停车场",
		"幼儿园新建", "公交首末站", "垃圾中转站", "文化礼堂", "绿道", "桥梁加固", "智慧城市数据中心", "路灯节能改造", "雨污分流",
		"防洪排涝", "职业技术学院实训楼", "养老服务中心", "人才公寓", "未来社区", "农贸市场改造", "消防站", "派出所业务用房",
		"快速路", "地下通道", "滨水公园景观提升", "学校食堂及宿舍楼"}
	modelKinds = []string{"工程施工", "工程施工", "工程施工", "工程监理", "勘察设计", "工程总承包", "设计施工总承包（EPC）",
		"施工", "监理", "全过程工程咨询", "设备采购及安装", "勘察"}
	modelPhases = []string{"（一期）", "（二期）", "一期", "二期"}
	modelLots   = []string{"第一标段", "第二标段", "第三标段", "一标段", "二标段", "标段一", "第1标段", "第2标段", "Ⅰ标段"}
	modelCities = []string{"杭州市", "某市", "宁波市", "绍兴市", "湖州市", "嘉兴市", "某县", "某区"}
	modelBodies = []string{"城市建设投资集团有限公司", "交通投资集团有限公司", "教育局", "人民医院", "住房和城乡建设局", "水利局",
		"城市管理局", "街道办事处", "国有资产投资控股有限公司", "城市发展集团有限公司", "自然资源和规划局", "卫生健康局",
		"文化广电旅游体育局", "建设发展有限公司", "水务集团有限公司", "开发建设管理委员会", "人民政府", "代建管理中心"}
	modelRoundBonds = []int64{5000, 10000, 20000, 30000, 50000, 80000, 100000, 150000, 200000, 300000, 500000, 800000}
)

// modelSections draws n sections from the model with r; orgnum is the
// share (in %) of sections registered with the tenderer's credit code.
func modelSections(r *rand.Rand, n int, orgnum uint64) []*Section {
	pick := func(list []string) string { return list[r.Uint64()%uint64(len(list))] }
	chance := func(pct uint64) bool { return r.Uint64()%100 < pct }
	out := make([]*Section, n)
	for i := range out {
		var name strings.Builder
		if chance(10) {
			name.WriteString("2026年")
		}
		name.WriteString(pick(modelPlaces) + pick(modelSubjects))
		if chance(20) {
			name.WriteString(pick(modelPhases))
		}
		name.WriteString(pick(modelKinds))
		if chance(50) {
			name.WriteString(pick(modelLots))
		}
		tenderer := pick(modelBodies)
		switch {
		case chance(60):
			tenderer = pick(modelCities) + pick(modelPlaces) + tenderer
		default:
			tenderer = pick(modelCities) + tenderer
		}
		code := ""
		if chance(orgnum) { // zbrorgnum is optional
			code = fmt.Sprintf("91330100MA%08d", r.Uint64()%100000000)
		}
		var bond decimal.Decimal
		if chance(60) {
			bond = decimal.NewFromInt(modelRoundBonds[r.Uint64()%uint64(len(modelRoundBonds))])
		} else {
			// 2% of an estimate from 500 thousand to 500 million yuan
			// (a mantissa of 500-4999 thousand, ten and a hundred times
			// that), to the hundred yuan, at most 800 000. Integers only:
			// the figures must not depend on the machine's floating point.
			est := int64(500+r.Uint64()%4500) * []int64{1000, 10000, 100000}[r.Uint64()%3]
			bond = decimal.NewFromInt(min(est/5000*100, 800000))
		}
		out[i] = &Section{No: fmt.Sprintf("E3301002026%06d001", r.Uint64()%1_000_000), Name: name.String(),
			Tenderer: tenderer, TendererCode: code, BondAmount: bond}
	}
	return out
}

// linkage is what an institution learns from the tuples of a set of
// sections, each with its applications.
type linkage struct {
	// unique is the share of applications whose tuple no other open
	// section shows: seen twice, it links two bidders for certain.
	unique float64
	// precision is the share of the pairs of applications with equal
	// tuples that are of one section: how sure "same tuple, same
	// section" is. (With nothing to go by, a pair is of one section with
	// the odds of picking the same section twice, about 1/open.)
	precision float64
}

func measure(secs []*Section, bidders []int, key func(*Section) string) linkage {
	apps := map[string]int{}     // applications per tuple
	sections := map[string]int{} // sections per tuple
	for i, s := range secs {
		apps[key(s)] += bidders[i]
		sections[key(s)]++
	}
	var total, unique, samePairs, equalPairs float64
	for i, s := range secs {
		n := float64(bidders[i])
		total += n
		if sections[key(s)] == 1 {
			unique += n
		}
		samePairs += n * (n - 1) / 2
	}
	for _, n := range apps {
		equalPairs += float64(n) * float64(n-1) / 2
	}
	return linkage{unique / total, samePairs / equalPairs}
}

// TestProjectFieldLengthLinkage: the applications of one section show the
// institution the same lengths and the same bond though their ciphertexts
// differ (checked on what the platform sends), and on the model most
// sections are told apart by them alone. The figures pinned here are
// docs/SECURITY.md's; change both together.
func TestProjectFieldLengthLinkage(t *testing.T) {
	// What the platform sends: two bidders of one section.
	e := newEnv(t, "")
	sec := e.section(time.Hour)
	a := e.applied(sec)
	e.bidder(e.pki.bidder2)
	b, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	da, db := e.openApplyData(a.ApplyNo, e.pki.bidder), e.openApplyData(b.ApplyNo, e.pki.bidder2)
	want := tupleOf(t, gm.NewKey(), sec)
	for _, d := range []struct {
		name string
		got  lengthTuple
	}{
		{a.ApplyNo, lengthTuple{len(da.BiaoduanNo), len(da.BiaoduanName), len(da.Zbr), len(da.ZbrOrgNum), da.BzjAmount}},
		{b.ApplyNo, lengthTuple{len(db.BiaoduanNo), len(db.BiaoduanName), len(db.Zbr), len(db.ZbrOrgNum), db.BzjAmount}},
	} {
		if d.got != want {
			t.Errorf("%s shows %+v; the model computes %+v", d.name, d.got, want)
		}
	}
	if da.BiaoduanName == db.BiaoduanName {
		t.Fatal("equal ciphertexts: TestProjectFieldsNotLinkable's bug is back")
	}

	// The model: sections open at once, 3 to 15 bidders each, 20 draws;
	// 90% of the sections with the tenderer's credit code, then all.
	key := gm.NewKey() // the lengths do not depend on it
	var got []string
	for _, orgnum := range []uint64{90, 100} {
		r := rand.New(rand.NewPCG(2026, 137))
		for _, open := range []int{50, 200, 1000} {
			const draws = 20
			var nothing, lengths, bond, both linkage
			names, zbrs := map[int]bool{}, map[int]bool{}
			for range draws {
				secs := modelSections(r, open, orgnum)
				bidders := make([]int, open)
				tuples := map[*Section]lengthTuple{}
				for i, s := range secs {
					bidders[i] = 3 + int(r.Uint64()%13)
					tuples[s] = tupleOf(t, key, s)
					names[tuples[s].name], zbrs[tuples[s].zbr] = true, true
				}
				for _, m := range []struct {
					dst *linkage
					key func(*Section) string
				}{
					{&nothing, func(*Section) string { return "" }},
					{&lengths, func(s *Section) string { u := tuples[s]; u.bond = ""; return fmt.Sprint(u) }},
					{&bond, func(s *Section) string { return tuples[s].bond }},
					{&both, func(s *Section) string { return fmt.Sprint(tuples[s]) }},
				} {
					l := measure(secs, bidders, m.key)
					m.dst.unique += l.unique / draws
					m.dst.precision += l.precision / draws
				}
			}
			t.Logf("zbrorgnum %d%%, %4d sections open (%d name lengths, %d tenderer lengths): unique / same tuple → same section: "+
				"by chance %.1f%%, lengths %s / %s, bond %s / %s, lengths and bond %s / %s",
				orgnum, open, len(names), len(zbrs), nothing.precision*100, pct(lengths.unique), pct(lengths.precision),
				pct(bond.unique), pct(bond.precision), pct(both.unique), pct(both.precision))
			got = append(got, fmt.Sprintf("%d%%/%d: %s/%s", orgnum, open, pct(both.unique), pct(both.precision)))
		}
	}
	// docs/SECURITY.md, "Risks of the protocol".
	pinned := []string{"90%/50: 76%/74%", "90%/200: 52%/44%", "90%/1000: 32%/13%", "100%/50: 74%/74%", "100%/200: 47%/38%", "100%/1000: 29%/12%"}
	if strings.Join(got, " ") != strings.Join(pinned, " ") {
		t.Errorf("measured %q, docs/SECURITY.md says %q", got, pinned)
	}
}

func pct(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" }

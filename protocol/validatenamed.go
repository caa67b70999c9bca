package protocol

import (
	"fmt"
	"strings"
)

// ApplyDataName names the decrypted 投保申请数据 of baohanapply to
// ValidateNamed, beside the interfaces.
const ApplyDataName = "applydata"

// InterfaceNames are the names of the 14 interfaces and the optional
// ones, comma-separated.
func InterfaceNames() string {
	names := make([]string, len(All))
	for k, i := range All {
		names[k] = string(i)
	}
	return strings.Join(names, ", ")
}

// ValidateNamed checks the JSON b against every rule of the interface
// named name (Validate), or of the apply data (ValidateApplyData) for
// ApplyDataName. An unknown name is an error that suggests the nearest
// one; so is a request that is no flat JSON object.
func ValidateNamed(name string, b []byte) ([]Violation, error) {
	if name == ApplyDataName {
		_, vs := ValidateApplyData(b)
		return vs, nil
	}
	i, ok := Lookup(name)
	if !ok {
		msg := fmt.Sprintf("unknown interface %q", name)
		if s, ok := Suggest(name); ok {
			msg += fmt.Sprintf(" (did you mean %q?)", string(s))
		}
		return nil, fmt.Errorf("%s; one of %s, or %s", msg, InterfaceNames(), ApplyDataName)
	}
	r, err := ParseRequest(b)
	if err != nil {
		return nil, err
	}
	return Validate(i, r), nil
}

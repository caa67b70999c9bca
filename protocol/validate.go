package protocol

import (
	"fmt"
	"strings"
)

// Validate checks r against every rule of interface i: each field of the
// spec's table (required and non-empty, a JSON string, at most Max
// characters, its format), the conditional rules of the 说明 column, and
// that extra fields, which are accepted, are strings too. Violations come
// in table order, then the conditional rules, then extra fields by name.
// An empty result means the request is valid.
func Validate(i Interface, r *Request) []Violation {
	s := SpecOf(i)
	if s == nil {
		return []Violation{{Rule: "interface", Message: fmt.Sprintf("unknown interface %q", string(i))}}
	}
	return validateSpec(s.Fields, s.Rules, r)
}

func validateSpec(fields []Field, rules []Rule, r *Request) []Violation {
	var out []Violation
	bad := map[string]bool{}
	for k := range fields {
		if v, ok := fields[k].check(r); ok {
			out = append(out, v)
			bad[v.Field] = true
		}
	}
	for _, rule := range rules {
		for _, v := range rule.Check(r) {
			if !bad[v.Field] {
				out = append(out, v)
				bad[v.Field] = true
			}
		}
	}
	return out
}

func known(fields []Field, name string) bool {
	for k := range fields {
		if fields[k].Name == name {
			return true
		}
	}
	return false
}

// requiredIf is the rule "when field cond is value, these fields are
// required" (e.g. 专票时必填). The message names the condition with the
// meaning of the value.
func requiredIf(fields []Field, cond, value string, need ...string) Rule {
	var cf *Field
	for k := range fields {
		if fields[k].Name == cond {
			cf = &fields[k]
		}
	}
	meaning := ""
	if cf != nil {
		meaning = cf.meaningOf(value)
	}
	when := fmt.Sprintf("when %q is %q", cond, value)
	if meaning != "" {
		when += " (" + meaning + ")"
	}
	return Rule{
		Name: fmt.Sprintf("%s required %s", strings.Join(need, ", "), when),
		Check: func(r *Request) []Violation {
			if r.Get(cond) != value || r.Type(cond) != JSONString {
				return nil
			}
			var out []Violation
			for _, n := range need {
				if r.Get(n) == "" || r.Type(n) == JSONNull {
					out = append(out, Violation{Field: n, Rule: RuleRequiredIf,
						Message: fmt.Sprintf("field %q is required %s", n, when)})
				}
			}
			return out
		},
	}
}

// JoinViolations joins the messages with "; ", listing at most max of
// them (0: all) and counting the rest.
func JoinViolations(vs []Violation, max int) string {
	n := len(vs)
	if max > 0 && n > max {
		n = max
	}
	parts := make([]string, 0, n+1)
	for _, v := range vs[:n] {
		parts = append(parts, v.Message)
	}
	if rest := len(vs) - n; rest > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", rest))
	}
	return strings.Join(parts, "; ")
}

package ofd

import (
	"fmt"
	"path"
	"strings"
)

// Resolve turns an OFD location (ST_Loc) found in the entry from into a
// zip entry name. Absolute locations ("/Doc_0/...") start at the package
// root; relative ones are relative to the directory of from. A location
// that leaves the package, holds a backslash or is empty is an error.
func Resolve(from, loc string) (string, error) {
	loc = strings.TrimSpace(loc)
	if loc == "" {
		return "", fmt.Errorf("ofd: empty location in %s", from)
	}
	if strings.ContainsRune(loc, '\\') {
		return "", fmt.Errorf("ofd: location %q in %s: backslash", loc, from)
	}
	var joined string
	if strings.HasPrefix(loc, "/") {
		joined = path.Clean(loc)
	} else {
		joined = path.Clean("/" + path.Join(path.Dir(Name(from)), loc))
	}
	// path.Clean of a rooted path drops any ".." above the root; catch it
	// by checking the unresolved segments.
	depth := 0
	base := path.Dir(Name(from))
	if strings.HasPrefix(loc, "/") || base == "." {
		base = ""
	}
	for _, seg := range strings.Split(strings.Trim(base+"/"+strings.TrimPrefix(loc, "/"), "/"), "/") {
		switch seg {
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("ofd: location %q in %s leaves the package", loc, from)
			}
		case "", ".":
		default:
			depth++
		}
	}
	name := Name(joined)
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("ofd: location %q in %s: %w", loc, from, err)
	}
	return name, nil
}

// resolveIn resolves loc from the entry from, and when that names no entry
// tries loc from the package root (some producers write root-relative
// locations without the leading slash).
func (p *Package) resolveIn(from, loc string) (string, error) {
	name, err := Resolve(from, loc)
	if err != nil {
		return "", err
	}
	if p.Has(name) {
		return name, nil
	}
	if alt, err := Resolve("", loc); err == nil && p.Has(alt) {
		return alt, nil
	}
	return name, nil
}

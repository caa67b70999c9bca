package main

import (
	_ "embed"
	"strings"

	"github.com/baohan-dev/baohan/bench"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// helpText is every command's summary and usage, as prose.
//
//go:embed help.txt
var helpText string

// helpValues are the values help.txt names in braces.
var helpValues = strings.NewReplacer(
	"{platform.DefaultAddr}", platform.DefaultAddr, "{platform.DemoAppKey}", platform.DemoAppKey,
	"{platform.DemoInstitutionURL}", platform.DemoInstitutionURL, "{platform.EnvPrefix}", platform.EnvPrefix,
	"{institution.DefaultAddr}", institution.DefaultAddr, "{institution.DemoAppKey}", institution.DemoAppKey,
	"{institution.DemoPlatformURL}", institution.DemoPlatformURL, "{institution.EnvPrefix}", institution.EnvPrefix,
	"{bench.DefaultPostgresURL}", bench.DefaultPostgresURL, "{protocol.InterfaceNames}", protocol.InterfaceNames(),
)

// helpSections reads help.txt: by command name, the summary and the
// usage.
func helpSections() map[string][2]string {
	m := map[string][2]string{}
	sections := strings.Split(helpText, "\n### ")
	for _, s := range sections[1:] {
		name, rest, _ := strings.Cut(s, "\n")
		summary, usage, _ := strings.Cut(rest, "\n")
		m[name] = [2]string{summary, helpValues.Replace(strings.TrimRight(usage, "\n"))}
	}
	return m
}

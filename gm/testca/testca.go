// Package testca is test support: the CA of package pki under the names
// the tests were written with. Tests may import it; production code
// imports pki (test/arch refuses any other importer of testca).
package testca

import "github.com/baohan-dev/baohan/pki"

type (
	CA       = pki.CA
	Identity = pki.Identity
	Role     = pki.Role
	Option   = pki.Option
)

const (
	Bidder      = pki.Bidder
	Institution = pki.Institution
	Platform    = pki.Platform

	CACertFile = pki.CACertFile
	CAKeyFile  = pki.CAKeyFile
)

var (
	New                = pki.New
	Init               = pki.Init
	Load               = pki.Load
	LoadIdentity       = pki.LoadIdentity
	ParseRole          = pki.ParseRole
	CertFile           = pki.CertFile
	KeyFile            = pki.KeyFile
	WithCreditCode     = pki.WithCreditCode
	WithCreditCodeIn   = pki.WithCreditCodeIn
	WithValidity       = pki.WithValidity
	WithDNSNames       = pki.WithDNSNames
	GenerateCreditCode = pki.GenerateCreditCode
	CheckCreditCode    = pki.CheckCreditCode
)

package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
)

// The consoles as `baohan platform serve` and `baohan institution serve`
// mount them (MountPlatform, MountInstitution): in front of the
// service's handler, configured from the environment:
//
//	BAOHAN_CONSOLE_ADMIN_USER, BAOHAN_CONSOLE_ADMIN_PASSWORD
//	    the first admin account, created when the console has none; without
//	    a password one is generated and printed once
//	BAOHAN_CA_AGENT_URL
//	    where bidders' pages find baohan ca-agent (default http://127.0.0.1:17650)
//	BAOHAN_CONSOLE_LOCKOUT
//	    wrong passwords in a row that lock a staff account (default 5)
const (
	EnvAdminUser     = "BAOHAN_CONSOLE_ADMIN_USER"
	EnvAdminPassword = "BAOHAN_CONSOLE_ADMIN_PASSWORD"
	EnvAgentURL      = "BAOHAN_CA_AGENT_URL"
	EnvLockout       = "BAOHAN_CONSOLE_LOCKOUT"
)

// OptionsFromEnv are the options and login settings of a console in
// front of a service that listens as listen: secure cookies behind an
// https public URL, the trusted proxies, and the environment above.
func OptionsFromEnv(logger *slog.Logger, listen config.Listen) (Options, []AuthOption, error) {
	var ao []AuthOption
	if strings.HasPrefix(listen.PublicURL, "https://") {
		ao = append(ao, WithSecureCookies())
	}
	if v := os.Getenv(EnvLockout); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return Options{}, nil, fmt.Errorf("%s=%q: want a number of failed logins from 1 to 100", EnvLockout, v)
		}
		ao = append(ao, WithLockout(n))
	}
	proxies, err := listen.Proxies()
	if err != nil {
		return Options{}, nil, err
	}
	return Options{AgentURL: os.Getenv(EnvAgentURL), Logger: logger, TrustedProxies: proxies}, ao, nil
}

// MountPlatform returns the platform's handler with its console in front
// (OptionsFromEnv). The console's first admin account is made when it
// has none, and a generated password printed once to out.
func MountPlatform(ctx context.Context, svc *platform.Service, logger *slog.Logger, out io.Writer) (http.Handler, error) {
	return mount(ctx, "platform", svc.Config().Listen, logger, out, svc.Handler, func(o Options, ao []AuthOption) (mounted, error) {
		return Platform(ctx, svc, o, ao...)
	})
}

// MountInstitution is MountPlatform for the institution: its console and
// the bidder's page behind redirecturl.
func MountInstitution(ctx context.Context, svc *institution.Service, logger *slog.Logger, out io.Writer) (http.Handler, error) {
	return mount(ctx, "institution", svc.Config().Listen, logger, out, svc.Handler, func(o Options, ao []AuthOption) (mounted, error) {
		return Institution(ctx, svc, o, ao...)
	})
}

// mounted is a console: PlatformConsole or InstitutionConsole.
type mounted interface {
	Auth() *Auth
	Handler(next http.Handler) http.Handler
}

func mount(ctx context.Context, what string, listen config.Listen, logger *slog.Logger, out io.Writer, next func() http.Handler,
	build func(Options, []AuthOption) (mounted, error)) (http.Handler, error) {
	o, ao, err := OptionsFromEnv(logger, listen)
	if err != nil {
		return nil, err
	}
	c, err := build(o, ao)
	if err != nil {
		return nil, err
	}
	pw := os.Getenv(EnvAdminPassword)
	acc, err := c.Auth().EnsureAdmin(ctx, os.Getenv(EnvAdminUser), pw)
	if err != nil {
		return nil, fmt.Errorf("%s console: %w", what, err)
	}
	if acc != nil && pw == "" {
		fmt.Fprintf(out, "%s console: created admin account %q with password %s (shown once; change it on the console's 密码 page)\n", what, acc.Username, acc.Password)
	}
	return c.Handler(next()), nil
}

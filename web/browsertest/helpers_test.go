package browsertest

import (
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/web"
)

func storeFilter(applyNo string) store.LogFilter {
	return store.LogFilter{ApplyNo: applyNo, Limit: 100}
}

func webAuditFilter(action string) web.AuditFilter { return web.AuditFilter{Action: action} }

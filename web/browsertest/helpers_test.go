package browsertest

import "github.com/baohan-dev/baohan/store"

func storeFilter(applyNo string) store.LogFilter {
	return store.LogFilter{ApplyNo: applyNo, Limit: 100}
}

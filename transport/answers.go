package transport

import (
	"strings"

	"github.com/baohan-dev/baohan"
)

// What a sender makes of a refusal (an answer with code 0) when it
// decides whether, and how, to send again. Peers word their refusals in
// their own way: these read the wording of baohan and of the deployed
// peers of this family, and answer false for anything else (a refusal
// the service treats as the peer's decision).

// StillHandled reports whether a refusal says the same request, sent
// before, is still being handled (a retry that came too early): the
// request is to be sent again as it is, later.
func StillHandled(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "still being handled") || strings.Contains(m, "still being processed") ||
		strings.Contains(m, "正在处理") || strings.Contains(m, "处理中")
}

// RefusedUnprocessed reports whether a refusal says the request was
// turned away before it was processed, for a reason that a new sign
// (a new timestamp) cures: its timestamp is outside the peer's window,
// its sign was already received (an older receiver that refuses every
// repeat), or the peer failed internally ("try again later"). The request
// is to be sent again, signed anew; the refusal is not the peer's
// decision.
func RefusedUnprocessed(message string) bool {
	m := strings.ToLower(message)
	if m == strings.ToLower(baohan.InternalMessage) || strings.HasPrefix(m, "internal error") {
		return true
	}
	for _, w := range []string{"replayed request", "replay", "重放", "重复请求"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	if strings.Contains(m, "timestamp") || strings.Contains(m, "时间戳") {
		for _, w := range []string{"behind", "ahead", "window", "expired", "too old", "stale", "过期", "超时", "失效", "超出"} {
			if strings.Contains(m, w) {
				return true
			}
		}
	}
	return false
}

// AlreadyProcessed reports whether a refusal says the peer already has
// what the request carries ("duplicate", "already processed", 已存在,
// 请勿重复提交): sent again after an attempt whose answer was lost, the
// request was processed the first time. A refusal that names a conflict
// (other values than the ones received) is not such an answer.
func AlreadyProcessed(message string) bool {
	if StillHandled(message) {
		return false
	}
	m := strings.ToLower(message)
	for _, w := range []string{"conflict", "other ", "differ", "不一致", "不同", "冲突"} {
		if strings.Contains(m, w) {
			return false
		}
	}
	for _, w := range []string{"duplicate", "already processed", "already been processed", "already exists", "already received",
		"已存在", "已处理", "已接收", "已收到", "重复提交", "请勿重复", "已经存在"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

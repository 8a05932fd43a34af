package chave

import "time"

// UsageRetention is how long a credential's daily usage is kept.
const UsageRetention = 90 * 24 * time.Hour

// UsageDay is a credential's grants on one UTC day.
type UsageDay struct {
	Day       time.Time // midnight UTC
	Succeeded int64
	Failed    int64 // a wrong secret (or a refused address) for this client id
}

// UsageCount is what a flush adds to one credential's day.
type UsageCount struct {
	TokenID string
	UsageDay
}

// UsageDayOf returns the UTC day t falls on, as its midnight.
func UsageDayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

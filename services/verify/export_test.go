package verify

// CacheLen is how many tokens v's cache holds (-1: no cache).
func CacheLen(v *Verifier) int {
	if v.tokens == nil {
		return -1
	}
	return v.tokens.len()
}

// HeaderCacheLen is how many checked header segments v remembers.
func HeaderCacheLen(v *Verifier) int { return int(v.headers.n.Load()) }

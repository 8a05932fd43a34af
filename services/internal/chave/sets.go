package chave

import "slices"

// SortedSet returns the strings sorted, without duplicates or empty ones,
// in a new slice.
func SortedSet(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

package capture

import "math/bits"

// RowSet is a set of picture rows (a bitset), used to say which rows of a frame changed. The zero value is empty.
type RowSet struct {
	words []uint64
	n     int // rows it can hold
}

// Reset empties the set and makes it hold rows 0 to n-1, reusing its memory when it can.
func (s *RowSet) Reset(n int) {
	w := (n + 63) / 64
	if cap(s.words) < w {
		s.words = make([]uint64, w)
	} else {
		s.words = s.words[:w]
		clear(s.words)
	}
	s.n = n
}

// Clear empties the set.
func (s *RowSet) Clear() { clear(s.words) }

// Len returns how many rows the set can hold.
func (s *RowSet) Len() int { return s.n }

// Add adds rows y0 to y1-1 (clipped to the set's rows).
func (s *RowSet) Add(y0, y1 int) {
	y0, y1 = max(y0, 0), min(y1, s.n)
	for y0 < y1 {
		i, b := y0/64, uint(y0%64)
		n := min(64-int(b), y1-y0)
		s.words[i] |= maskOf(b, n)
		y0 += n
	}
}

// Any reports whether a row from y0 to y1-1 is in the set.
func (s *RowSet) Any(y0, y1 int) bool {
	y0, y1 = max(y0, 0), min(y1, s.n)
	for y0 < y1 {
		i, b := y0/64, uint(y0%64)
		n := min(64-int(b), y1-y0)
		if s.words[i]&maskOf(b, n) != 0 {
			return true
		}
		y0 += n
	}
	return false
}

// NextRun returns the first run of consecutive rows of the set at or after row from: rows y0 to y1-1. y0 == y1
// when there is none.
func (s *RowSet) NextRun(from int) (y0, y1 int) {
	y0 = s.next(from, true)
	if y0 >= s.n {
		return s.n, s.n
	}
	return y0, s.next(y0, false)
}

// next returns the first row at or after from that is in the set (in) or not in it (!in); s.n when there is none.
func (s *RowSet) next(from int, in bool) int {
	for y := max(from, 0); y < s.n; {
		w := s.words[y/64]
		if !in {
			w = ^w
		}
		w >>= uint(y % 64)
		if w != 0 {
			return min(y+bits.TrailingZeros64(w), s.n)
		}
		y = (y/64 + 1) * 64
	}
	return s.n
}

// Count returns the number of rows in the set.
func (s *RowSet) Count() int {
	n := 0
	for _, w := range s.words {
		n += bits.OnesCount64(w)
	}
	return n
}

// CopyFrom makes s a copy of o, reusing s's memory when it can.
func (s *RowSet) CopyFrom(o *RowSet) {
	if cap(s.words) < len(o.words) {
		s.words = make([]uint64, len(o.words))
	}
	s.words = s.words[:len(o.words)]
	copy(s.words, o.words)
	s.n = o.n
}

// maskOf returns n (1..64) bits set from bit b.
func maskOf(b uint, n int) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return ((uint64(1) << uint(n)) - 1) << b
}

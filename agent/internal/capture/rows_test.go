package capture

import (
	"image"
	"math/rand/v2"
	"testing"
)

// TestRowSetMatchesNaive checks Add, Any, NextRun and Count against a slice of booleans, on sizes around the word
// size and ranges that start and end anywhere (clipped ones too).
func TestRowSetMatchesNaive(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var s RowSet
	for _, n := range []int{0, 1, 2, 63, 64, 65, 127, 128, 129, 600, 4096} {
		s.Reset(n)
		naive := make([]bool, n)
		for range 50 {
			y0, y1 := rnd.IntN(n+20)-10, rnd.IntN(n+20)-10
			if rnd.IntN(3) == 0 {
				y1 = y0 + 1 + rnd.IntN(3)
			}
			s.Add(y0, y1)
			for y := max(y0, 0); y < min(y1, n); y++ {
				naive[y] = true
			}
			count := 0
			for _, b := range naive {
				if b {
					count++
				}
			}
			if s.Count() != count {
				t.Fatalf("n=%d: Count %d, want %d", n, s.Count(), count)
			}
			a, b := rnd.IntN(n+20)-10, rnd.IntN(n+20)-10
			want := false
			for y := max(a, 0); y < min(b, n); y++ {
				want = want || naive[y]
			}
			if s.Any(a, b) != want {
				t.Fatalf("n=%d: Any(%d, %d) = %v, want %v", n, a, b, !want, want)
			}
			// The runs NextRun walks cover exactly the set.
			seen := make([]bool, n)
			for r0, r1 := s.NextRun(0); r0 < r1; r0, r1 = s.NextRun(r1) {
				if r0 > 0 && naive[r0-1] || r1 < n && naive[r1] {
					t.Fatalf("n=%d: run %d-%d is not maximal", n, r0, r1)
				}
				for y := r0; y < r1; y++ {
					seen[y] = true
				}
			}
			for y := range n {
				if seen[y] != naive[y] {
					t.Fatalf("n=%d: row %d in a run: %v, in the set: %v", n, y, seen[y], naive[y])
				}
			}
		}
		var c RowSet
		c.CopyFrom(&s)
		s.Clear()
		if s.Count() != 0 || s.Len() != n || c.Len() != n {
			t.Fatalf("n=%d: after Clear count %d len %d, copy len %d", n, s.Count(), s.Len(), c.Len())
		}
		if y0, y1 := s.NextRun(0); y0 != y1 {
			t.Fatalf("n=%d: empty set has run %d-%d", n, y0, y1)
		}
	}
}

// TestTakeRows: each Take hands out the rows changed since the previous one and the sequence number of the
// previous one, so a consumer can tell whether it saw every change; a resize changes every row; Peek has no rows.
func TestTakeRows(t *testing.T) {
	fb, err := NewFramebuffer(64, 100)
	if err != nil {
		t.Fatal(err)
	}
	var f Frame
	var prev uint64
	take := func(wantRows, wantHeight int) {
		t.Helper()
		fb.Take(&f, func(f *Frame) {
			if f.Rows == nil || f.Rows.Count() != wantRows || f.Rows.Len() != wantHeight {
				t.Fatalf("rows %v, want %d of %d", f.Rows, wantRows, wantHeight)
			}
			if f.PrevSeq != prev {
				t.Fatalf("PrevSeq %d, want %d", f.PrevSeq, prev)
			}
			prev = f.Seq
		})
	}
	take(100, 100) // the initial black picture: every row
	paint(fb, image.Rect(0, 3, 1, 5), 1)
	paint(fb, image.Rect(10, 90, 20, 92), 2) // far apart: the damage union spans rows 3-91, the rows do not
	fb.Peek(&f, func(f *Frame) {
		if f.Rows != nil || f.PrevSeq != prev {
			t.Fatalf("peek rows %v prev %d", f.Rows, f.PrevSeq)
		}
	})
	fb.Take(&f, func(f *Frame) {
		if f.Rows.Count() != 4 || !f.Rows.Any(3, 5) || !f.Rows.Any(90, 92) || f.Rows.Any(5, 90) {
			t.Fatalf("rows %v", f.Rows)
		}
		prev = f.Seq
	})
	take(0, 100) // nothing changed
	paint(fb, image.Rect(0, 99, 64, 200), 3)
	take(1, 100)
	w := fb.BeginWrite()
	if err := w.Resize(32, 40); err != nil {
		t.Fatal(err)
	}
	w.Damage(image.Rect(0, 0, 1, 1))
	w.End()
	take(40, 40)
}

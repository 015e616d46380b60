package world

import (
	"testing"
)

// paint draws a state as the guest does and returns a luminance reader over it.
func paint(s State, noise int) func(x, y int) uint8 {
	img := make([]uint8, 800*600)
	for i, on := range s.Bits() {
		if !on {
			continue
		}
		r := BlockRect(i)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				img[y*800+x] = 255
			}
		}
	}
	return func(x, y int) uint8 {
		v := int(img[y*800+x]) + noise*((x+y)%3-1)
		return uint8(min(max(v, 0), 255))
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []State{
		{},
		{Art: ArtMounted, ArtFiles: 3, ArtHash: Hash([]string{"b.bmp", "a.txt", "c"}), NetUp: true, Towns: 2,
			TownsHash: Hash([]string{"loco-1", "loco-2"}), Heard: 65535, Sent: 1234},
		{Art: ArtBroken, NetUp: true},
	} {
		got, err := Read(paint(s, 40), 800, 600)
		if err != nil || got != s {
			t.Errorf("round trip of %+v: %+v, %v", s, got, err)
		}
	}
}

func TestRejects(t *testing.T) {
	if _, err := Read(func(int, int) uint8 { return 0 }, 800, 600); err == nil {
		t.Error("a black picture decoded")
	}
	if _, err := Read(func(int, int) uint8 { return 255 }, 800, 600); err == nil {
		t.Error("a white picture decoded")
	}
	if _, err := Read(paint(State{Towns: 1}, 0), 640, 60); err == nil {
		t.Error("a picture too small decoded")
	}
	// One flipped block breaks the check byte.
	lum := paint(State{Towns: 1, Heard: 7}, 0)
	flip := BlockRect(100).Min
	if _, err := Read(func(x, y int) uint8 {
		if x >= flip.X && x < flip.X+Block && y >= flip.Y && y < flip.Y+Block {
			return 255 - lum(x, y)
		}
		return lum(x, y)
	}, 800, 600); err == nil {
		t.Error("a corrupted band decoded")
	}
}

func TestHash(t *testing.T) {
	if Hash(nil) != 0 {
		t.Error("Hash(nil) != 0")
	}
	if Hash([]string{"a", "b"}) != Hash([]string{"b", "a"}) {
		t.Error("Hash depends on order")
	}
	if Hash([]string{"a", "b"}) == Hash([]string{"ab"}) {
		t.Error("Hash ignores name boundaries")
	}
}

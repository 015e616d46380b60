package strip

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"testing"
)

func paint(s State) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 800, 600))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{40, 140, 60, 255}), image.Point{}, draw.Src)
	for i, on := range s.Bits() {
		c := color.RGBA{0, 0, 0, 255}
		if on {
			c = color.RGBA{255, 255, 255, 255}
		}
		draw.Draw(img, BlockRect(i), image.NewUniform(c), image.Point{}, draw.Src)
	}
	return img
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []State{
		{},
		{X: 799, Y: 599, Buttons: ButtonLeft | ButtonRight, Keys: 65535, LastKey: 30, Frame: 0xDEADBEEF, Clicks: 7},
		{X: 1, Y: 2, Buttons: ButtonMiddle, Keys: 3, LastKey: 0x1c, Frame: 1, Clicks: 65535},
	} {
		got, err := Decode(paint(s))
		if err != nil || got != s {
			t.Errorf("Decode(paint(%+v)) = %+v, %v", s, got, err)
		}
	}
}

// TestSurvivesLossyCompression encodes the picture as a low-quality JPEG, as a stand-in for a video codec.
func TestSurvivesLossyCompression(t *testing.T) {
	s := State{X: 412, Y: 305, Buttons: ButtonLeft, Keys: 12, LastKey: 44, Frame: 123456, Clicks: 3}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, paint(s), &jpeg.Options{Quality: 15}); err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(img)
	if err != nil || got != s {
		t.Fatalf("after JPEG q15: %+v, %v; want %+v", got, err, s)
	}
}

func TestRejectsDamage(t *testing.T) {
	img := paint(State{X: 100, Y: 200, Frame: 9})
	// Flip one bit of the pointer's x.
	r := BlockRect(15)
	c := img.RGBAAt(r.Min.X+5, r.Min.Y+5)
	flip := color.RGBA{255 - c.R, 255 - c.G, 255 - c.B, 255}
	draw.Draw(img, r, image.NewUniform(flip), image.Point{}, draw.Src)
	if _, err := Decode(img); !errors.Is(err, ErrNoStrip) {
		t.Fatalf("damaged strip: err = %v, want ErrNoStrip", err)
	}
	if _, err := Decode(image.NewRGBA(image.Rect(0, 0, 800, 600))); !errors.Is(err, ErrNoStrip) {
		t.Fatalf("black picture: err = %v, want ErrNoStrip", err)
	}
	if _, err := Decode(image.NewRGBA(image.Rect(0, 0, 640, 480))); !errors.Is(err, ErrTooSmall) {
		t.Fatalf("small picture: err = %v, want ErrTooSmall", err)
	}
}

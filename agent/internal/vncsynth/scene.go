package vncsynth

import (
	"fmt"
	"hash/fnv"
	"image"
)

// Scene names.
const (
	SceneTown   = "town"
	SceneMotion = "motion"
	SceneStill  = "still"
)

// bandHeight is the height of the instance band along the top; borderWidth the frame around the screen.
const (
	bandHeight  = 24
	borderWidth = 4
)

// train is a small sprite moving along a road.
type train struct {
	x, y, w, h int
	dx, dy     int
	body, trim rgb
	at         image.Rectangle // where it was drawn last
}

// scene draws one of the scenes into a picture.
type scene struct {
	name   string
	label  string
	colour rgb
	bpp    int

	bg     *picture // the still background with the instance band (town and still)
	trains []train
}

// labelColour derives a bright, distinct colour from a label.
func labelColour(label string) rgb {
	h := fnv.New32a()
	_, _ = h.Write([]byte(label))
	hue := float64(h.Sum32()%360) / 60
	x := 1 - abs(mod2(hue)-1)
	var r, g, b float64
	switch int(hue) {
	case 0:
		r, g = 1, x
	case 1:
		r, g = x, 1
	case 2:
		g, b = 1, x
	case 3:
		g, b = x, 1
	case 4:
		r, b = x, 1
	default:
		r, b = 1, x
	}
	return rgb{uint8(60 + 195*r), uint8(60 + 195*g), uint8(60 + 195*b)}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func mod2(f float64) float64 { return f - 2*float64(int(f/2)) }

// lcg is a tiny deterministic random generator, so every run draws the same town.
type lcg uint32

func (l *lcg) intn(n int) int {
	*l = *l*1664525 + 1013904223
	return int(uint32(*l)>>8) % n
}

// layout prepares the scene for a picture of p's size and paints the whole picture.
func (s *scene) layout(p *picture) {
	if s.name == SceneMotion {
		s.bg = nil
		s.paintMotion(p, 0)
		return
	}
	bg := newPicture(p.w, p.h, p.q16)
	s.paintTown(bg)
	s.paintStatic(bg)
	s.bg = bg
	copy(p.pix, bg.pix)
	s.trains = nil
	if s.name == SceneTown {
		s.placeTrains(p.w, p.h)
	}
}

// roads returns the road rectangles of a w x h town.
func roads(w, h int) []image.Rectangle {
	return []image.Rectangle{
		rect(0, h*35/100, w, 20), rect(0, h*75/100, w, 20),
		rect(w*30/100, 0, 20, h), rect(w*70/100, 0, 20, h),
	}
}

func (s *scene) paintTown(p *picture) {
	w, h := p.w, p.h
	p.fill(p.bounds(), rgb{76, 153, 56})
	rnd := lcg(42)
	for range w * h / 4000 { // tufts of darker grass
		p.fill(rect(rnd.intn(w), rnd.intn(h), 3, 2), rgb{60, 130, 45})
	}
	p.fill(rect(w*50/100, 0, 34, h), rgb{50, 110, 200}) // river
	p.fill(rect(w*50/100+6, 0, 4, h), rgb{90, 150, 230})
	palette := []rgb{{220, 40, 40}, {250, 210, 40}, {40, 90, 220}, {245, 245, 245}, {245, 140, 30}, {150, 60, 170}}
	for range w * h / 30000 { // houses with roofs and a door
		hw, hh := 30+rnd.intn(30), 25+rnd.intn(20)
		x, y := rnd.intn(w-hw), bandHeight+rnd.intn(h-hh-bandHeight)
		c := palette[rnd.intn(len(palette))]
		p.fill(rect(x, y, hw, hh), c)
		p.fill(rect(x, y, hw, hh/3), rgb{c.r / 2, c.g / 2, c.b / 2})
		p.fill(rect(x+hw/2-3, y+hh-10, 6, 10), rgb{90, 60, 30})
	}
	for range w * h / 12000 { // trees
		x, y := rnd.intn(w), rnd.intn(h)
		p.fill(rect(x, y, 10, 10), rgb{30, 90, 30})
		p.fill(rect(x+4, y+10, 2, 4), rgb{100, 70, 40})
	}
	for _, r := range roads(w, h) {
		p.fill(r, rgb{110, 110, 110})
	}
	for _, r := range roads(w, h) { // dashes
		if r.Dx() > r.Dy() {
			for x := r.Min.X; x < r.Max.X; x += 24 {
				p.fill(rect(x, r.Min.Y+9, 12, 2), rgb{240, 240, 240})
			}
		} else {
			for y := r.Min.Y; y < r.Max.Y; y += 24 {
				p.fill(rect(r.Min.X+9, y, 2, 12), rgb{240, 240, 240})
			}
		}
	}
}

// paintStatic draws the instance band with the label and mode, and the frame around the screen.
func (s *scene) paintStatic(p *picture) {
	w, h := p.w, p.h
	c := s.colour
	p.fill(rect(0, 0, w, bandHeight), c)
	p.fill(rect(0, 0, borderWidth, h), c)
	p.fill(rect(w-borderWidth, 0, borderWidth, h), c)
	p.fill(rect(0, h-borderWidth, w, borderWidth), c)
	ink := black
	if int(c.r)*3+int(c.g)*6+int(c.b) < 1280 {
		ink = white
	}
	p.drawText(StampWidth+12, 2, 4, fmt.Sprintf("%s %dX%d %d", s.label, w, h, s.bpp), ink)
}

func (s *scene) placeTrains(w, h int) {
	rs := roads(w, h)
	s.trains = []train{
		{x: 10, y: rs[0].Min.Y + 4, w: 44, h: 12, dx: 4, body: rgb{200, 30, 30}, trim: rgb{250, 220, 60}},
		{x: w - 60, y: rs[1].Min.Y + 4, w: 60, h: 12, dx: -3, body: rgb{30, 60, 200}, trim: rgb{240, 240, 240}},
		{x: rs[2].Min.X + 4, y: 40, w: 12, h: 36, dy: 3, body: rgb{250, 200, 0}, trim: rgb{20, 20, 20}},
		{x: rs[3].Min.X + 4, y: h - 60, w: 12, h: 40, dy: -5, body: rgb{30, 160, 60}, trim: rgb{250, 250, 250}},
	}
}

// step advances the scene by one frame, appending the changed rectangles to dirty.
func (s *scene) step(p *picture, frame uint64, dirty []image.Rectangle) []image.Rectangle {
	switch s.name {
	case SceneMotion:
		s.paintMotion(p, frame)
		return append(dirty, p.bounds())
	case SceneTown:
		for i := range s.trains {
			t := &s.trains[i]
			if !t.at.Empty() {
				p.copyFrom(s.bg, t.at)
				dirty = append(dirty, t.at)
			}
			t.x += t.dx
			t.y += t.dy
			if t.x > p.w {
				t.x = -t.w
			}
			if t.x < -t.w {
				t.x = p.w
			}
			if t.y > p.h {
				t.y = -t.h
			}
			if t.y < -t.h {
				t.y = p.h
			}
		}
		for i := range s.trains {
			t := &s.trains[i]
			t.at = rect(t.x, t.y, t.w, t.h).Intersect(p.bounds())
			p.fill(t.at, t.body)
			if t.w > t.h {
				for x := t.x + 4; x+6 <= t.x+t.w-2; x += 10 {
					p.fill(rect(x, t.y+3, 6, 4), t.trim)
				}
			} else {
				for y := t.y + 4; y+6 <= t.y+t.h-2; y += 10 {
					p.fill(rect(t.x+3, y, 4, 6), t.trim)
				}
			}
			if !t.at.Empty() {
				dirty = append(dirty, t.at)
			}
		}
	}
	return dirty
}

// paintMotion repaints every pixel (each changes every frame, also in RGB565): moving colour waves, then the
// instance band.
func (s *scene) paintMotion(p *picture, frame uint64) {
	t := int(frame)
	for y := 0; y < p.h; y++ {
		row := p.pix[y*p.stride : y*p.stride+p.w*4]
		gy := uint8(y*2 + t*3)
		for x := 0; x < p.w; x++ {
			r, g, b := uint8(x+t*8), gy, uint8((x+y)/2+t*8)^uint8(x>>3) // r and b move by a 5-bit step
			if p.q16 {
				r, g, b = expand5[r], expand6[g], expand5[b]
			}
			i := x * 4
			row[i], row[i+1], row[i+2], row[i+3] = b, g, r, 0
		}
	}
	s.paintStatic(p)
}

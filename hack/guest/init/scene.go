package main

import (
	"fmt"
	"image"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/loco-cluster/loco/hack/guest/strip"
)

// scene is the animated picture: a static background (grass, track, station, title bar) and, every frame, the
// train, the clock, click markers, recent keys, the cursor and the state strip.
type scene struct {
	w, h    int
	name    string
	bg      *canvas
	back    *canvas
	path    []image.Point // the track's centre line, evenly spaced samples
	arc     []float64     // cumulative length at each sample
	length  float64
	station float64 // arc position of the station
}

const (
	barH      = 44  // title bar height
	panelY    = 540 // top of the keys panel
	lapPeriod = 8.0 // seconds per lap
)

var (
	colGrass   = rgb(70, 150, 60)
	colBar     = rgb(20, 40, 90)
	colPanel   = rgb(40, 40, 48)
	colBallast = rgb(140, 120, 100)
	colRail    = rgb(60, 60, 70)
	colSleeper = rgb(90, 60, 30)
	colWhite   = rgb(255, 255, 255)
	colYellow  = rgb(255, 220, 40)
	colRed     = rgb(220, 30, 30)
	colBlack   = rgb(0, 0, 0)
)

func newScene(w, h int, name string) *scene {
	s := &scene{w: w, h: h, name: name, bg: newCanvas(w, h), back: newCanvas(w, h)}
	cx, cy := float64(w)/2, float64(barH+panelY)/2
	rx, ry := float64(w)/2-80, float64(panelY-barH)/2-50
	const n = 1440
	for i := 0; i <= n; i++ {
		a := 2 * math.Pi * float64(i) / n
		p := image.Pt(int(math.Round(cx+rx*math.Cos(a))), int(math.Round(cy+ry*math.Sin(a))))
		if i > 0 {
			q := s.path[i-1]
			s.length += math.Hypot(float64(p.X-q.X), float64(p.Y-q.Y))
		}
		s.path = append(s.path, p)
		s.arc = append(s.arc, s.length)
	}
	s.station = s.length / 4 // angle pi/2: the bottom of the oval
	s.drawBackground(cx, cy, rx, ry)
	return s
}

func (s *scene) drawBackground(cx, cy, rx, ry float64) {
	c := s.bg
	c.fill(image.Rect(0, 0, s.w, s.h), colGrass)
	// Ballast and rails: a ring around the ellipse.
	for y := barH; y < panelY; y++ {
		for x := range s.w {
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			d := math.Sqrt(dx*dx+dy*dy) - 1
			// distance to the ellipse in pixels, roughly
			px := d * math.Min(rx, ry) * (1 + 0.4*math.Abs(dx))
			switch {
			case math.Abs(px) < 3 || (math.Abs(px) > 6 && math.Abs(px) < 8):
				c.set(x, y, colRail)
			case math.Abs(px) < 12:
				c.set(x, y, colBallast)
			}
		}
	}
	for i := 0; i < len(s.path)-1; i += 8 { // sleepers
		p := s.path[i]
		c.fill(image.Rect(p.X-1, p.Y-1, p.X+2, p.Y+2), colSleeper)
	}
	// Trees.
	for _, t := range [][2]int{{60, 90}, {740, 100}, {400, 290}, {320, 250}, {480, 330}, {50, 500}, {760, 480}} {
		c.disc(t[0], t[1]+6, 5, rgb(90, 60, 30))
		c.disc(t[0], t[1], 14, rgb(30, 100, 40))
	}
	// Station below the bottom of the oval.
	st := s.at(s.station)
	c.fill(image.Rect(st.X-60, st.Y+16, st.X+60, st.Y+22), rgb(180, 180, 180))
	c.fill(image.Rect(st.X-40, st.Y+22, st.X+40, st.Y+38), rgb(200, 80, 60))
	c.text(st.X-24, st.Y+24, "STATION", 1, colWhite)
	// Title bar, keys panel, strip band.
	c.fill(image.Rect(0, 0, s.w, barH), colBar)
	c.text(10, 9, "LOCO "+s.name, 2, colWhite)
	c.fill(image.Rect(0, panelY, s.w, strip.OriginY), colPanel)
	c.text(8, panelY+4, "keys:", 1, colYellow)
	c.text(8, panelY+22, "clicks: left/right/middle mark the spot", 1, rgb(160, 160, 160))
	c.fill(image.Rect(0, strip.OriginY, s.w, s.h), colBlack)
}

// at returns the track point at arc position d.
func (s *scene) at(d float64) image.Point {
	d = math.Mod(d, s.length)
	if d < 0 {
		d += s.length
	}
	i := sort.SearchFloat64s(s.arc, d)
	return s.path[min(i, len(s.path)-1)]
}

func (s *scene) run(fb *framebuffer, st *state, snd *sound, fps int, still bool) {
	if still {
		fps = 2
	}
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	var frame uint32
	lastD := 0.0
	for now := range tick.C {
		frame++
		t := now.Sub(start).Seconds()
		d := math.Mod(t/lapPeriod, 1) * s.length
		if still {
			d = s.station + 30
		}
		if lastD < s.station && d >= s.station {
			snd.play(sndChuff)
		}
		lastD = d
		s.draw(now, d, st.snap(frame))
		fb.present(s.back.pix)
	}
}

func (s *scene) draw(now time.Time, d float64, snap stateSnapshot) {
	c := s.back
	copy(c.pix, s.bg.pix)
	// The train: smoke, three wagons and the locomotive, nose first.
	for i := 3; i >= 1; i-- {
		p := s.at(d - float64(i)*9)
		c.disc(p.X, p.Y-14-3*i, 2+i, rgb(220, 220, 220))
	}
	wagons := []uint16{rgb(40, 90, 200), colYellow, rgb(40, 160, 200)}
	for i := len(wagons); i >= 1; i-- {
		p := s.at(d - float64(i)*26)
		c.fill(image.Rect(p.X-10, p.Y-10, p.X+11, p.Y+11), colBlack)
		c.fill(image.Rect(p.X-8, p.Y-8, p.X+9, p.Y+9), wagons[i-1])
	}
	p := s.at(d)
	c.fill(image.Rect(p.X-11, p.Y-11, p.X+12, p.Y+12), colBlack)
	c.fill(image.Rect(p.X-9, p.Y-9, p.X+10, p.Y+10), colRed)
	c.fill(image.Rect(p.X-3, p.Y-9, p.X+3, p.Y-3), colBlack)
	// Clock.
	c.text(s.w-10-8*14, 9, now.Format("15:04:05"), 2, colYellow)
	// Click markers.
	for _, m := range snap.markers {
		for k := -5; k <= 5; k++ {
			c.set(m.x+k, m.y+k, colRed)
			c.set(m.x+k, m.y-k, colRed)
			c.set(m.x+k+1, m.y+k, colRed)
			c.set(m.x+k+1, m.y-k, colRed)
		}
	}
	// Recent keys and the pointer's own idea of where it is.
	c.text(50, panelY+4, strings.Join(snap.recent, " "), 1, colWhite)
	ss := snap.strip
	c.text(s.w-300, panelY+22, fmt.Sprintf("x=%3d y=%3d b=%d keys=%d", ss.X, ss.Y, ss.Buttons, ss.Keys), 1, colWhite)
	// The cursor, then the state strip on top of everything.
	c.cursor(int(ss.X), int(ss.Y))
	c.fill(image.Rect(0, strip.OriginY, s.w, s.h), colBlack)
	for i, on := range ss.Bits() {
		if on {
			c.fill(strip.BlockRect(i), colWhite)
		}
	}
	s.drawWorld(c)
}

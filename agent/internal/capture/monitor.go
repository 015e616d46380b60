package capture

import "time"

// MonitorConfig configures a [Monitor]. Zero fields take the defaults.
type MonitorConfig struct {
	// FrozenAfter is how long the picture may stay unchanged before it counts as frozen (default 30 s).
	FrozenAfter time.Duration
	// BlackLevel is the brightest a sampled channel may be for the screen to count as black (default 16 of 255).
	BlackLevel uint8
	// Grid is the number of sample columns and rows (default 32, so 1024 samples).
	Grid int
}

// Status is a [Monitor]'s verdict.
type Status struct {
	Width, Height int
	Seq           uint64
	// Black is true when every sampled pixel is darker than BlackLevel (also for a 0x0 framebuffer).
	Black bool
	// Frozen is true when the picture has not changed for longer than FrozenAfter (or never changed).
	Frozen bool
	// SinceChange is the time since the picture last changed (since the monitor started, before any change).
	SinceChange time.Duration
}

// Monitor samples a framebuffer for black and frozen screens. It is cheap (a read lock and Grid*Grid pixel reads
// per Check) and safe for concurrent use.
type Monitor struct {
	fb      *Framebuffer
	cfg     MonitorConfig
	started time.Time
}

// NewMonitor returns a monitor of fb.
func NewMonitor(fb *Framebuffer, cfg MonitorConfig) *Monitor {
	if cfg.FrozenAfter <= 0 {
		cfg.FrozenAfter = 30 * time.Second
	}
	if cfg.BlackLevel == 0 {
		cfg.BlackLevel = 16
	}
	if cfg.Grid <= 0 {
		cfg.Grid = 32
	}
	return &Monitor{fb: fb, cfg: cfg, started: time.Now()}
}

// Check samples the framebuffer now.
func (m *Monitor) Check() Status { return m.CheckAt(time.Now()) }

// CheckAt samples the framebuffer, judging the time since the last change at now.
func (m *Monitor) CheckAt(now time.Time) Status {
	var st Status
	black := true
	var frame Frame
	m.fb.Peek(&frame, func(f *Frame) {
		st.Width, st.Height, st.Seq = f.Width, f.Height, f.Seq
		if f.Width == 0 || f.Height == 0 {
			return
		}
		g := m.cfg.Grid
		lvl := m.cfg.BlackLevel
		for j := 0; j < g && black; j++ {
			y := (2*j + 1) * f.Height / (2 * g)
			row := f.Pix[y*f.Stride:]
			for i := 0; i < g; i++ {
				x := (2*i + 1) * f.Width / (2 * g) * BytesPerPixel
				if row[x] >= lvl || row[x+1] >= lvl || row[x+2] >= lvl {
					black = false
					break
				}
			}
		}
	})
	st.Black = black
	since := m.started
	if c := m.fb.ChangedAt(); c.After(since) {
		since = c
	}
	st.SinceChange = now.Sub(since)
	if st.SinceChange < 0 {
		st.SinceChange = 0
	}
	st.Frozen = st.SinceChange > m.cfg.FrozenAfter
	return st
}

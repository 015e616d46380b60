package qemu

import (
	"testing"
	"time"

	"github.com/loco-cluster/loco/hack/guest/strip"
)

// BenchmarkDemoGuest measures, under the accelerator the supervisor picks (TCG on machines without working KVM),
// the boot time to the first frame and the CPU one QEMU process uses for an animated demo guest (20 frames per
// second, the train moving) and for a still one (loco.still=1: 2 frames per second, only the clock and strip
// change), each over 10 s, and the frames the guest drew meanwhile (from its state strip) with an rfb client attached as the agent's would be. Run with -benchtime=1x:
//
//	go test -run '^$' -bench BenchmarkDemoGuest -benchtime=1x ./internal/qemu/
func BenchmarkDemoGuest(b *testing.B) {
	for _, c := range []struct {
		name, append string
	}{{"animated", ""}, {"still", "loco.still=1"}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				in := startDemo(b, "bench", func(cfg *Config) { cfg.Append = c.append })
				in.waitState(b, "first frame", 90*time.Second, func(strip.State) bool { return true })
				st := in.sup.Status()
				b.ReportMetric(time.Since(st.Started).Seconds(), "s-to-first-frame")
				time.Sleep(3 * time.Second) // past the boot
				c0, err := cpuSeconds(st.PID)
				if err != nil {
					b.Fatal(err)
				}
				s0, err0 := in.state()
				const window = 10 * time.Second
				time.Sleep(window)
				c1, err := cpuSeconds(st.PID)
				if err != nil {
					b.Fatal(err)
				}
				s1, err1 := in.state()
				b.ReportMetric((c1-c0)/window.Seconds(), "cpu-cores")
				if err0 == nil && err1 == nil {
					b.ReportMetric(float64(s1.Frame-s0.Frame)/window.Seconds(), "guest-fps")
				}
				in.stop(b)
			}
		})
	}
}

// The init binary is the demo guest's whole user space: the kernel runs it as /init (PID 1) from the initramfs
// built by hack/guest/build. It stands in for Windows 98 + LEGO Loco in local runs and tests: it draws an animated
// scene (a train going round a track, a clock, the instance name) into an 800x600, 16-bit framebuffer, follows the
// PS/2 mouse through /dev/input/mice (ImPS/2), marks clicks, shows the last keys typed, plays sounds through the
// emulated AC97 sound card (OSS emulation, /dev/dsp), and paints its own state in the machine-readable strip of
// package strip.
//
// Kernel command line parameters it reads:
//
//	loco.name=NAME   instance name shown at the top (default "loco")
//	loco.fps=N       frames drawn per second (default 20)
//	loco.still=1     a still scene: the train waits at the station and 2 frames per second are drawn (an idle
//	                 guest, for measuring the cost of a screen that hardly changes)
//
// It powers the machine off when the ACPI power button is pressed (QMP system_powerdown).
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	logf("loco demo guest starting")
	if err := mountAll(); err != nil {
		logf("mount: %v", err)
	}
	args := readCmdline()
	for _, err := range loadModules(wantedModules) {
		logf("modules: %v", err)
	}
	startWorld(args.name)
	fb, err := openFramebuffer("/dev/fb0")
	if err != nil {
		fatal(fmt.Errorf("framebuffer: %w", err))
	}
	graphicsMode()
	st := newState(fb.width, fb.height)
	snd := newSound()
	go snd.run()
	go runMouse(st, snd)
	go runKeyboards(st)
	sc := newScene(fb.width, fb.height, args.name)
	sc.run(fb, st, snd, args.fps, args.still)
}

// logf writes a line to the kernel console (the serial port in QEMU).
func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "loco-guest: "+format+"\n", a...)
}

// fatal reports err and parks PID 1 forever: init must not exit, or the kernel panics.
func fatal(err error) {
	logf("fatal: %v", err)
	for {
		time.Sleep(time.Hour)
	}
}

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/loco-cluster/loco/hack/guest/strip"
)

// runMouse follows /dev/input/mice, the kernel's PS/2-style view of every mouse, switched to the ImPS/2
// protocol (4-byte packets with a wheel byte) exactly as a Windows 98 mouse driver would switch a real one.
func runMouse(st *state, snd *sound) {
	for {
		if err := readMouse(st, snd); err != nil {
			logf("mouse: %v", err)
		}
		time.Sleep(time.Second)
	}
}

func readMouse(st *state, snd *sound) error {
	f, err := os.OpenFile("/dev/input/mice", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// The ImPS/2 "magic knock" (set sample rate 200, 100, 80), then "get device ID". mousedev keeps only the answer
	// to the last byte written, so write one byte at a time and read each answer: 0xFA (ACK), plus the ID (3 =
	// ImPS/2) after 0xF2.
	var id byte
	for _, b := range []byte{0xF3, 200, 0xF3, 100, 0xF3, 80, 0xF2} {
		if _, err := f.Write([]byte{b}); err != nil {
			return err
		}
		resp := make([]byte, 1, 2)
		if b == 0xF2 {
			resp = resp[:2]
		}
		if _, err := io.ReadFull(f, resp); err != nil {
			return err
		}
		if resp[0] != 0xFA {
			return fmt.Errorf("mouse answered %#x to %#x", resp[0], b)
		}
		if b == 0xF2 {
			id = resp[1]
		}
	}
	logf("mouse: device ID %d (3 = ImPS/2)", id)
	r := bufio.NewReader(f)
	var p [4]byte
	for {
		if _, err := io.ReadFull(r, p[:1]); err != nil {
			return err
		}
		if p[0]&0x08 == 0 { // not a first byte: resynchronise
			continue
		}
		if _, err := io.ReadFull(r, p[1:]); err != nil {
			return err
		}
		dx := int(p[1])
		if p[0]&0x10 != 0 {
			dx -= 256
		}
		dy := int(p[2])
		if p[0]&0x20 != 0 {
			dy -= 256
		}
		var buttons uint8
		if p[0]&1 != 0 {
			buttons |= strip.ButtonLeft
		}
		if p[0]&2 != 0 {
			buttons |= strip.ButtonRight
		}
		if p[0]&4 != 0 {
			buttons |= strip.ButtonMiddle
		}
		// PS/2 counts y upwards; the screen downwards.
		if st.move(dx, -dy, buttons) {
			snd.play(sndClick)
		}
	}
}

// runKeyboards reads key presses from every event device (the AT keyboard, and the ACPI power button, which
// powers the machine off). New devices are picked up as they appear.
func runKeyboards(st *state) {
	open := map[string]bool{}
	for {
		paths, _ := filepath.Glob("/dev/input/event*")
		for _, p := range paths {
			if open[p] {
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			open[p] = true
			go readEvents(f, st)
		}
		time.Sleep(2 * time.Second)
	}
}

const (
	evKey    = 1
	keyPower = 116
	btnMisc  = 0x100
)

func readEvents(f *os.File, st *state) {
	defer f.Close()
	r := bufio.NewReader(f)
	var ev [24]byte // struct input_event on x86-64: timeval, type, code, value
	for {
		if _, err := io.ReadFull(r, ev[:]); err != nil {
			logf("%s: %v", f.Name(), err)
			return
		}
		typ := binary.LittleEndian.Uint16(ev[16:])
		code := binary.LittleEndian.Uint16(ev[18:])
		value := int32(binary.LittleEndian.Uint32(ev[20:]))
		if typ != evKey || value != 1 || code >= btnMisc {
			continue
		}
		if code == keyPower {
			powerOff()
		}
		st.key(code)
	}
}

func powerOff() {
	logf("power button: powering off")
	syscall.Sync()
	if err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		logf("power off: %v", err)
	}
}

var keyNames = map[uint16]string{
	1: "Esc", 12: "-", 13: "=", 14: "Bksp", 15: "Tab", 26: "[", 27: "]", 28: "Enter", 29: "Ctrl",
	39: ";", 40: "'", 41: "`", 42: "Shift", 43: "\\", 51: ",", 52: ".", 53: "/", 54: "Shift", 55: "*",
	56: "Alt", 57: "Space", 58: "Caps", 87: "F11", 88: "F12", 97: "Ctrl", 100: "AltGr", 102: "Home",
	103: "Up", 104: "PgUp", 105: "Left", 106: "Right", 107: "End", 108: "Down", 109: "PgDn", 110: "Ins",
	111: "Del", 125: "Win",
}

func keyName(code uint16) string {
	const rows = "1234567890" + "qwertyuiop" + "asdfghjkl" + "zxcvbnm"
	switch {
	case code >= 2 && code <= 11:
		return string(rows[code-2])
	case code >= 16 && code <= 25:
		return string(rows[10+code-16] - 32)
	case code >= 30 && code <= 38:
		return string(rows[20+code-30] - 32)
	case code >= 44 && code <= 50:
		return string(rows[29+code-44] - 32)
	case code >= 59 && code <= 68:
		return "F" + strconv.Itoa(int(code-58))
	}
	if n, ok := keyNames[code]; ok {
		return n
	}
	return "#" + strconv.Itoa(int(code))
}

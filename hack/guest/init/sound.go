package main

import (
	"encoding/binary"
	"math"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Sounds the guest plays.
const (
	sndClick = iota // a short 3 kHz tick when a mouse button goes down
	sndChuff        // a low rumble of noise when the train passes the station
)

// sound plays through the OSS emulation of the AC97 card (/dev/dsp). Sounds are written when they happen and
// the device runs dry in between, so a quiet guest costs no audio DMA.
type sound struct {
	req  chan int
	rate int
}

func newSound() *sound { return &sound{req: make(chan int, 8), rate: 22050} }

// play queues a sound; it never blocks the caller (a full queue drops the sound).
func (s *sound) play(kind int) {
	select {
	case s.req <- kind:
	default:
	}
}

const (
	sndctlDspSpeed       = 0xC0045002
	sndctlDspSetFmt      = 0xC0045005
	sndctlDspChannels    = 0xC0045006
	sndctlDspSetFragment = 0xC004500A
	afmtS16LE            = 0x10
	fragBytes            = 1024
)

func (s *sound) run() {
	var dsp *os.File
	for kind := range s.req {
		if dsp == nil {
			var err error
			if dsp, err = s.open(); err != nil {
				logf("sound: %v", err)
				time.Sleep(time.Second)
				continue
			}
		}
		if _, err := dsp.Write(s.samples(kind)); err != nil {
			logf("sound: write: %v", err)
			dsp.Close()
			dsp = nil
		}
	}
}

// unmute turns up the master and PCM volumes: ALSA brings the AC97 codec up muted, and with no alsactl in this
// guest nobody else would. Through the OSS mixer a volume above zero also sets the mute switch on.
func unmute() {
	m, err := os.OpenFile("/dev/mixer", os.O_RDWR, 0)
	if err != nil {
		logf("sound: mixer: %v", err)
		return
	}
	defer m.Close()
	const mixerWrite, volume, pcm = 0xC0044D00, 0, 4 // MIXER_WRITE(n) = _IOWR('M', n, int)
	for _, ch := range []uintptr{volume, pcm} {
		v := int32(90 | 90<<8) // left | right << 8, in percent
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), mixerWrite|ch, uintptr(unsafe.Pointer(&v))); e != 0 {
			logf("sound: mixer channel %d: %v", ch, e)
		}
	}
}

func (s *sound) open() (*os.File, error) {
	unmute()
	f, err := os.OpenFile("/dev/dsp", os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	set := func(req uintptr, v int32) int32 {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(unsafe.Pointer(&v))); e != 0 {
			logf("sound: ioctl %#x: %v", req, e)
		}
		return v
	}
	set(sndctlDspSetFragment, 8<<16|10) // 8 fragments of 2^10 bytes: about 23 ms each at 22050 Hz mono
	set(sndctlDspSetFmt, afmtS16LE)
	set(sndctlDspChannels, 1)
	s.rate = int(set(sndctlDspSpeed, int32(s.rate)))
	logf("sound: /dev/dsp at %d Hz", s.rate)
	return f, nil
}

// samples renders one sound as 16-bit mono PCM, padded with silence to whole fragments plus two more so the
// tail is played before the device runs dry.
func (s *sound) samples(kind int) []byte {
	rate := float64(s.rate)
	var pcm []float64
	switch kind {
	case sndClick:
		n := int(0.06 * rate)
		for i := range n {
			t := float64(i) / rate
			pcm = append(pcm, 0.7*math.Sin(2*math.Pi*3000*t)*math.Exp(-t/0.02))
		}
	case sndChuff:
		n := int(0.3 * rate)
		lfsr, lp := uint32(0xACE1), 0.0
		for i := range n {
			lfsr = lfsr>>1 ^ (-(lfsr & 1) & 0xB400)
			white := float64(lfsr&0xFFFF)/32768 - 1
			lp += 0.06 * (white - lp) // one-pole low-pass: a rumble, little energy at 3 kHz
			t := float64(i) / rate
			env := math.Min(t/0.01, 1) * math.Exp(-t/0.09)
			pcm = append(pcm, 4*lp*env)
		}
	}
	size := (len(pcm)*2/fragBytes + 3) * fragBytes
	out := make([]byte, size)
	for i, v := range pcm {
		v = math.Max(-1, math.Min(1, v))
		binary.LittleEndian.PutUint16(out[2*i:], uint16(int16(v*32000)))
	}
	return out
}

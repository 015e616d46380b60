package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// framebuffer is /dev/fb0 mapped into memory. The scene draws RGB565 into back; present copies the rows that
// changed since the last present into the mapping, so a still screen costs the emulated VGA nothing.
type framebuffer struct {
	width, height int
	bpp           int // 16 or 32
	stride        int // bytes per line in the mapping
	mem           []byte
	shadow        []uint16 // what the mapping holds, as RGB565
	presented     bool     // false until the first present, which writes every pixel
}

func openFramebuffer(dev string) (*framebuffer, error) {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	keepOpen = append(keepOpen, f)
	var vinfo [160]byte
	var finfo [128]byte
	const fbioGetVScreenInfo, fbioGetFScreenInfo = 0x4600, 0x4602
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fbioGetVScreenInfo, uintptr(unsafe.Pointer(&vinfo[0]))); e != 0 {
		return nil, fmt.Errorf("FBIOGET_VSCREENINFO: %w", e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fbioGetFScreenInfo, uintptr(unsafe.Pointer(&finfo[0]))); e != 0 {
		return nil, fmt.Errorf("FBIOGET_FSCREENINFO: %w", e)
	}
	le := binary.LittleEndian
	fb := &framebuffer{
		width:  int(le.Uint32(vinfo[0:])),
		height: int(le.Uint32(vinfo[4:])),
		bpp:    int(le.Uint32(vinfo[24:])),
		stride: int(le.Uint32(finfo[48:])),
	}
	size := int(le.Uint32(finfo[24:]))
	logf("framebuffer %dx%d, %d bpp, stride %d, %d bytes", fb.width, fb.height, fb.bpp, fb.stride, size)
	if fb.bpp != 16 && fb.bpp != 32 {
		return nil, fmt.Errorf("unsupported depth %d bpp", fb.bpp)
	}
	if size < fb.stride*fb.height {
		size = fb.stride * fb.height
	}
	fb.mem, err = syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	fb.shadow = make([]uint16, fb.width*fb.height)
	return fb, nil
}

// present writes the changed spans of back (RGB565, width*height) to the screen.
func (fb *framebuffer) present(back []uint16) {
	w := fb.width
	if !fb.presented {
		fb.presented = true
		for i := range fb.shadow {
			fb.shadow[i] = ^back[i] // differs everywhere: the first present writes the whole screen
		}
	}
	for y := range fb.height {
		row := back[y*w : (y+1)*w]
		old := fb.shadow[y*w : (y+1)*w]
		if u16bytes(row) == u16bytes(old) {
			continue
		}
		lo, hi := 0, w-1
		for row[lo] == old[lo] {
			lo++
		}
		for row[hi] == old[hi] {
			hi--
		}
		copy(old[lo:hi+1], row[lo:hi+1])
		line := fb.mem[y*fb.stride:]
		if fb.bpp == 16 {
			dst := unsafe.Slice((*uint16)(unsafe.Pointer(&line[0])), w)
			copy(dst[lo:hi+1], row[lo:hi+1])
			continue
		}
		dst := unsafe.Slice((*uint32)(unsafe.Pointer(&line[0])), w)
		for x := lo; x <= hi; x++ {
			c := uint32(row[x])
			r, g, b := (c>>11)&0x1F, (c>>5)&0x3F, c&0x1F
			dst[x] = (r<<3|r>>2)<<16 | (g<<2|g>>4)<<8 | (b<<3 | b>>2)
		}
	}
}

// u16bytes views a pixel row as a string for a fast (vectorised) comparison.
func u16bytes(p []uint16) string {
	return unsafe.String((*byte)(unsafe.Pointer(&p[0])), len(p)*2)
}

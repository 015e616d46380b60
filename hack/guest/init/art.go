package main

import (
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/loco-cluster/loco/hack/guest/world"
)

// The art drive (agent/internal/qemu/art.go): the share appears as the only IDE hard disk, a FAT16 file system
// in one partition. The guest mounts it read-only for each look and unmounts it again, so every look reads the
// disk afresh (the last close of the block device drops its cached blocks), and lists the top directory.

// artModules drive the PIIX IDE controller and the disks on it, and read FAT with long names.
var artModules = []string{"ata_piix", "sd_mod", "vfat", "nls_cp437", "nls_utf8"}

// artEvery is how often the guest looks at the drive.
const artEvery = 3 * time.Second

type artView struct {
	mu    sync.Mutex
	state uint8 // world.Art*
	names []string
}

func (v *artView) snap() (uint8, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state, v.names
}

func runArt(v *artView) {
	if err := os.MkdirAll("/art", 0o755); err != nil {
		logf("art: %v", err)
		return
	}
	var last string
	for {
		state, names, why := lookAtArt()
		v.mu.Lock()
		v.state, v.names = state, names
		v.mu.Unlock()
		if why != last {
			logf("art: %s", why)
			last = why
		}
		time.Sleep(artEvery)
	}
}

// lookAtArt mounts the drive, lists it and unmounts it.
func lookAtArt() (state uint8, names []string, why string) {
	dev := ""
	for _, d := range []string{"/dev/sda1", "/dev/sda"} {
		if _, err := os.Stat(d); err == nil {
			dev = d
			break
		}
	}
	if dev == "" {
		return world.ArtNone, nil, "no drive"
	}
	if err := syscall.Mount(dev, "/art", "vfat", syscall.MS_RDONLY|syscall.MS_NOATIME,
		"codepage=437,iocharset=utf8,shortname=mixed"); err != nil {
		return world.ArtBroken, nil, "mount " + dev + ": " + err.Error()
	}
	defer func() {
		if err := syscall.Unmount("/art", 0); err != nil {
			logf("art: unmount: %v", err)
		}
	}()
	entries, err := os.ReadDir("/art")
	if err != nil {
		return world.ArtBroken, nil, "read: " + err.Error()
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return world.ArtMounted, names, "mounted " + dev
}

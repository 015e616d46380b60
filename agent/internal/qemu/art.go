package qemu

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Art resources: Config.ArtDir (the shared art volume, NFS in a cluster) reaches the guest as a second IDE hard
// disk (primary slave: D: in Windows 98 next to the system disk C:, /dev/sda in the demo guest) holding a FAT16
// file system that QEMU's vvfat driver synthesises from the directory.
//
//	-blockdev driver=vvfat,node-name=art-dir0,dir=<ArtDir>,fat-type=16,label=LOCOART,read-only=on
//	-blockdev driver=raw,node-name=art-fat0,file=art-dir0,read-only=on
//	-blockdev driver=file,node-name=art-file,filename=<ArtOverlay>
//	-blockdev driver=qcow2,node-name=art,file=art-file,backing=art-fat0
//	-device ide-hd,drive=art,bus=ide.0,unit=1
//
// Read-only, deliberately. QEMU 7.2 documents vvfat's rw mode as beta and lists what must never happen with it,
// among them writing to the directory on the host while a guest uses it; with one share mounted by N games, every
// game's writes would be exactly that for the other N-1 (and rw writes from Windows guests are known not to reach
// the host reliably). So the share is never written by QEMU. IDE hard disks cannot be read-only in QEMU, so the
// vvfat node sits under a throw-away qcow2 overlay, made afresh at every QEMU start: the guest may write to its
// D: drive (LEGO Loco does not mind), those writes stay in the overlay and vanish when QEMU stops.
//
// vvfat's limits, checked before QEMU starts (a share that breaks them is left out, with an error in the log, and
// the game starts without its art drive): FAT16 holds at most 504 MB (vvfat's fixed 1024/16/63 geometry), so the
// share must stay under artMaxBytes; names should be ASCII (others are logged; vvfat skips what it cannot map).
//
// Freshness. vvfat reads the directory tree when the node is opened (file contents are read on demand). Every
// QEMU start sees the share as it is then. With the demo profile the supervisor also polls the share every
// artPoll and, when anything changed, swaps a new vvfat snapshot in under the overlay over QMP (blockdev-add,
// blockdev-reopen of the overlay with the new backing, blockdev-del of the old); the demo guest mounts the drive
// read-only for every look, so it sees the new listing within seconds. Windows 98 caches a hard disk's FAT and
// directories and may have written to its overlay, so swapping under a running Windows would corrupt what it
// sees: with the win98 profile new art arrives with the next boot of the guest (reset or restart).

// artMaxBytes is what a vvfat FAT16 disk can hold, with room for the FAT and directories.
const artMaxBytes = 480 << 20

// artPoll is how often the demo profile looks for changes on the share.
const artPoll = 2 * time.Second

// vvfat's FAT16 hard disk: 1024 cylinders, 16 heads, 63 sectors of 512 bytes.
const artDiskBytes = 1024 * 16 * 63 * 512

// ArtOverlay is the throw-away qcow2 overlay over the art drive: in StateDir for the demo guest (which never
// writes to it), next to the disk overlay for win98, whose writes to its art drive may grow it beyond what a
// small state directory (a memory-backed volume in a pod) should hold.
func (c Config) ArtOverlay() string {
	if c.Profile == ProfileWin98 && c.Overlay != "" {
		return strings.TrimSuffix(c.Overlay, ".qcow2") + "-art.qcow2"
	}
	return filepath.Join(c.StateDir, "art.qcow2")
}

// artArgs are the art drive's QEMU arguments (none without ArtDir).
func (c *Config) artArgs() []string {
	if c.ArtDir == "" {
		return nil
	}
	return []string{
		"-blockdev", "driver=vvfat,node-name=" + artDirNode(0) + ",dir=" + opt(c.ArtDir) +
			",fat-type=16,label=LOCOART,read-only=on",
		"-blockdev", "driver=raw,node-name=" + artFatNode(0) + ",file=" + artDirNode(0) + ",read-only=on",
		"-blockdev", "driver=file,node-name=art-file,filename=" + opt(c.ArtOverlay()),
		"-blockdev", "driver=qcow2,node-name=art,file=art-file,backing=" + artFatNode(0),
		"-device", "ide-hd,drive=art,bus=ide.0,unit=1",
	}
}

func artDirNode(gen int) string { return "art-dir" + strconv.Itoa(gen) }
func artFatNode(gen int) string { return "art-fat" + strconv.Itoa(gen) }

// artDefaults checks ArtDir.
func (c *Config) artDefaults() error {
	if c.ArtDir == "" {
		return nil
	}
	abs, err := filepath.Abs(c.ArtDir)
	if err != nil {
		return fmt.Errorf("%w: art dir: %w", ErrConfig, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("%w: art dir: %w", ErrConfig, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: art dir %s is not a directory", ErrConfig, abs)
	}
	c.ArtDir = abs
	return nil
}

// artScan walks the share: its total size, whether a name is not ASCII, and a signature that changes when any
// name, size or modification time does.
func artScan(dir string) (total int64, nonASCII string, sig [32]byte, err error) {
	h := sha256.New()
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%v\n", rel, info.Size(), info.ModTime().UnixNano(), d.IsDir())
		total += info.Size()
		for _, r := range d.Name() {
			if r > 0x7e || r < 0x20 {
				nonASCII = rel
			}
		}
		return nil
	})
	h.Sum(sig[:0])
	return total, nonASCII, sig, err
}

// prepareArt checks the share and makes a fresh overlay for the art drive. It reports false when the drive
// must be left out of this start (the reason is logged).
func (s *Supervisor) prepareArt() bool {
	c := s.cfg
	if c.ArtDir == "" {
		return true
	}
	total, odd, _, err := artScan(c.ArtDir)
	switch {
	case err != nil:
		s.log.Error("art share unreadable: starting without the art drive", "dir", c.ArtDir, "err", err)
		return false
	case total > artMaxBytes:
		s.log.Error("art share too large for a FAT16 drive: starting without it", "dir", c.ArtDir,
			"bytes", total, "max", artMaxBytes)
		return false
	case odd != "":
		s.log.Warn("art share has a name that is not ASCII; the guest may not see it", "name", odd)
	}
	_ = os.Remove(c.ArtOverlay())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, c.QemuImg, "create", "-q", "-f", "qcow2", c.ArtOverlay(),
		strconv.Itoa(artDiskBytes)).CombinedOutput(); err != nil {
		s.log.Error("art overlay: starting without the art drive", "err", err, "output", string(out))
		return false
	}
	return true
}

// watchArt (demo profile) swaps a fresh snapshot of the share in under the running guest whenever the share
// changed, and once after every QEMU start (changes made while QEMU was starting). It returns when ctx is done.
func (s *Supervisor) watchArt(ctx context.Context) {
	if s.cfg.ArtDir == "" || s.cfg.Profile != ProfileDemo {
		return
	}
	t := time.NewTicker(artPoll)
	defer t.Stop()
	var (
		pid  int
		gen  int
		last [32]byte
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := s.Status()
		if st.State != StateRunning {
			continue
		}
		total, _, sig, err := artScan(s.cfg.ArtDir)
		if err != nil || total > artMaxBytes {
			continue // prepareArt said why at start; keep the last good snapshot
		}
		if st.PID == pid && sig == last {
			continue
		}
		cur := gen
		if st.PID != pid {
			cur = 0 // a new QEMU starts with generation 0
		}
		if err := s.swapArt(ctx, cur, cur+1); err != nil {
			s.log.Warn("art refresh failed", "err", err)
			continue
		}
		pid, gen, last = st.PID, cur+1, sig
		s.log.Info("art drive refreshed", "dir", s.cfg.ArtDir, "generation", gen)
	}
}

// swapArt replaces the art drive's backing (generation from) by a new vvfat snapshot (generation to).
func (s *Supervisor) swapArt(ctx context.Context, from, to int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	steps := []struct {
		cmd  string
		args any
	}{
		{"blockdev-add", map[string]any{"driver": "vvfat", "node-name": artDirNode(to), "dir": s.cfg.ArtDir,
			"fat-type": 16, "label": "LOCOART", "read-only": true}},
		{"blockdev-add", map[string]any{"driver": "raw", "node-name": artFatNode(to), "file": artDirNode(to),
			"read-only": true}},
		{"blockdev-reopen", map[string]any{"options": []any{map[string]any{"driver": "qcow2", "node-name": "art",
			"file": "art-file", "backing": artFatNode(to)}}}},
		{"blockdev-del", map[string]any{"node-name": artFatNode(from)}},
		{"blockdev-del", map[string]any{"node-name": artDirNode(from)}},
	}
	for i, st := range steps {
		if _, err := s.QMP(ctx, st.cmd, st.args); err != nil {
			if i < 2 { // nothing swapped yet: take the new nodes away again
				_, _ = s.QMP(ctx, "blockdev-del", map[string]any{"node-name": artFatNode(to)})
				_, _ = s.QMP(ctx, "blockdev-del", map[string]any{"node-name": artDirNode(to)})
			}
			return fmt.Errorf("%s: %w", st.cmd, err)
		}
	}
	return nil
}

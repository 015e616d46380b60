package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// ensureOverlay creates overlay as a qcow2 file backed by base (opened read-only by QEMU) unless it exists. An
// existing overlay is never touched: it holds the user's saved towns.
func ensureOverlay(ctx context.Context, qemuImg, base, overlay string) (created bool, err error) {
	if _, err := os.Stat(overlay); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("overlay %s: %w", overlay, err)
	}
	absBase, err := filepath.Abs(base)
	if err != nil {
		return false, err
	}
	out, err := exec.CommandContext(ctx, qemuImg, "info", "--output=json", absBase).Output()
	if err != nil {
		return false, fmt.Errorf("%w: base image %s: %w", ErrConfig, absBase, err)
	}
	var info struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Format == "" {
		return false, fmt.Errorf("%w: base image %s: unreadable qemu-img info", ErrConfig, absBase)
	}
	if err := os.MkdirAll(filepath.Dir(overlay), 0o755); err != nil {
		return false, err
	}
	// Create under a temporary name and rename, so a crash never leaves a half-made overlay behind.
	tmp := overlay + ".new"
	_ = os.Remove(tmp)
	if out, err := exec.CommandContext(ctx, qemuImg, "create", "-q", "-f", "qcow2", "-F", info.Format,
		"-b", absBase, tmp).CombinedOutput(); err != nil {
		return false, fmt.Errorf("qemu-img create overlay: %w: %s", err, out)
	}
	if err := os.Link(tmp, overlay); err != nil { // fails if someone created the overlay meanwhile
		_ = os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("overlay %s: %w", overlay, err)
	}
	_ = os.Remove(tmp)
	return true, nil
}

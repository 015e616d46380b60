package capture

import "errors"

// ErrTooLarge is returned by [Writer.Resize] for a size beyond [MaxWidth] x [MaxHeight].
var ErrTooLarge = errors.New("capture: framebuffer size too large")

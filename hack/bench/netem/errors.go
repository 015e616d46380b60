package netem

import "errors"

// ErrNetlink is returned when the kernel refuses a queue configuration message.
var ErrNetlink = errors.New("netlink request refused")

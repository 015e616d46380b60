package agenttest

import "errors"

var errNoMedia = errors.New("fake agent runs without media")

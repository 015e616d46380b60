package rfb

// RFB message types and encodings used by this client.
const (
	msgFramebufferUpdate   = 0
	msgSetColourMapEntries = 1
	msgBell                = 2
	msgServerCutText       = 3

	clientSetPixelFormat = 0
	clientSetEncodings   = 2
	clientUpdateRequest  = 3
	clientKeyEvent       = 4
	clientPointerEvent   = 5
	clientQEMU           = 255
	qemuExtendedKeyEvent = 0

	// EncodingRaw is RFB Raw pixel data.
	EncodingRaw int32 = 0
	// EncodingDesktopSize is the DesktopSize pseudo-encoding: the rectangle's width and height are the new mode.
	EncodingDesktopSize int32 = -223
	// EncodingPointerTypeChange is QEMU's pointer type pseudo-encoding: x = 1 for absolute, 0 for relative.
	EncodingPointerTypeChange int32 = -257
	// EncodingExtendedKeyEvent is QEMU's extended key event pseudo-encoding, acknowledged by an empty rectangle.
	EncodingExtendedKeyEvent int32 = -258

	// RelativeOrigin is what QEMU subtracts from a PointerEvent's x and y in relative mode.
	RelativeOrigin = 0x7FFF

	// maxCutText bounds a ServerCutText message; a longer one is malformed.
	maxCutText = 16 << 20
)

// requestedEncodings are announced in SetEncodings, in order of preference.
var requestedEncodings = []int32{EncodingRaw, EncodingDesktopSize, EncodingPointerTypeChange, EncodingExtendedKeyEvent}

package webrtc

import "encoding/json"

// Viewer identifies a viewer (a browser or any WHEP player).
type Viewer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Screen is what the status message says about the screen.
type Screen struct {
	Width, Height int
	// Relative is true when the guest takes relative pointer motion natively.
	Relative bool
}

// statusMessage is the JSON status of proto/loco/v1/input.md.
type statusMessage struct {
	Type       string  `json:"type"`
	Role       string  `json:"role"`
	Controller *Viewer `json:"controller"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	Relative   bool    `json:"relative"`
}

func statusJSON(controller *Viewer, isController bool, sc Screen) string {
	m := statusMessage{Type: "status", Role: "spectator", Controller: controller, Width: sc.Width,
		Height: sc.Height, Relative: sc.Relative}
	if isController {
		m.Role = "controller"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

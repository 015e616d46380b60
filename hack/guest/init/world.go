package main

import (
	"fmt"
	"image"

	"github.com/loco-cluster/loco/hack/guest/world"
)

// The world: what the guest sees outside itself (the art drive, the other towns), painted as two lists for
// people and as the world band (package world) for tests.

func init() {
	wantedModules = append(wantedModules, artModules...)
	wantedModules = append(wantedModules, netModules...)
}

var (
	theArt   artView
	theTowns townsView
)

// startWorld starts looking at the art drive and announcing this town.
func startWorld(name string) {
	go runArt(&theArt)
	go runTowns(&theTowns, name)
}

const worldLines = 7

// drawWorld paints the two lists inside the track and the world band below the title bar.
func (s *scene) drawWorld(c *canvas) {
	artState, artNames := theArt.snap()
	up, towns, recv, sent := theTowns.snap()
	artTitle := "ART: no drive"
	switch artState {
	case world.ArtMounted:
		artTitle = fmt.Sprintf("ART: %d files", len(artNames))
	case world.ArtBroken:
		artTitle = "ART: drive unreadable"
	}
	townsTitle := "TOWNS: no network"
	if up {
		townsTitle = fmt.Sprintf("TOWNS: %d heard", len(towns))
	}
	for i, list := range []struct {
		title string
		names []string
	}{{artTitle, artNames}, {townsTitle, towns}} {
		x := 160 + i*245
		c.fill(image.Rect(x, 170, x+235, 180+14*(worldLines+1)), colPanel)
		c.text(x+6, 174, list.title, 1, colYellow)
		for j, n := range list.names {
			if j == worldLines-1 && len(list.names) > worldLines {
				c.text(x+6, 174+14*(j+1), fmt.Sprintf("... %d more", len(list.names)-j), 1, colWhite)
				break
			}
			if len(n) > 31 {
				n = n[:30] + "~"
			}
			c.text(x+6, 174+14*(j+1), n, 1, colWhite)
		}
	}
	st := world.State{Art: artState, ArtFiles: uint8(min(len(artNames), 255)), ArtHash: world.Hash(artNames),
		NetUp: up, Towns: uint8(min(len(towns), 255)), TownsHash: world.Hash(towns), Heard: recv, Sent: sent}
	c.fill(image.Rect(world.OriginX, world.OriginY, world.OriginX+world.Cols*world.Block,
		world.OriginY+world.Rows*world.Block), colBlack)
	for i, on := range st.Bits() {
		if on {
			c.fill(world.BlockRect(i), colWhite)
		}
	}
}

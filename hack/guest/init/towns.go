package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Towns: the guest announces itself on the network play segment (agent/internal/netplay) and listens for the
// others. Every second it broadcasts one raw Ethernet frame through an AF_PACKET socket:
//
//	destination ff:ff:ff:ff:ff:ff, source the NIC's MAC, EtherType 0x88B5 (IEEE 802 local experimental 1),
//	payload "LOCOTOWN", one byte n, n bytes of the instance name (printable ASCII, at most 63), zero padding to
//	the 60-byte minimum frame.
//
// A town heard within the last townTTL counts as present.

// netModules drive the AMD PCnet NIC the agent gives the demo guest for network play.
var netModules = []string{"pcnet32"}

const (
	etherTown = 0x88B5
	townMagic = "LOCOTOWN"
	townTTL   = 10 * time.Second
)

type townsView struct {
	mu    sync.Mutex
	up    bool
	heard map[string]time.Time
	nRecv uint16
	nSent uint16
}

func (v *townsView) snap() (up bool, names []string, recv, sent uint16) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for n, t := range v.heard {
		if time.Since(t) <= townTTL {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return v.up, names, v.nRecv, v.nSent
}

func runTowns(v *townsView, name string) {
	v.heard = map[string]time.Time{}
	if len(name) > 63 {
		name = name[:63]
	}
	for {
		if err := announce(v, name); err != nil {
			logf("towns: %v", err)
		}
		time.Sleep(2 * time.Second)
	}
}

// announce finds the NIC, brings it up and announces every second while listening; it returns on an error.
func announce(v *townsView, name string) error {
	ifname := ""
	ents, _ := os.ReadDir("/sys/class/net")
	for _, e := range ents {
		if e.Name() != "lo" {
			ifname = e.Name()
			break
		}
	}
	if ifname == "" {
		return nil // no NIC (yet, or none given): look again later
	}
	sys := "/sys/class/net/" + ifname + "/"
	idxb, err := os.ReadFile(sys + "ifindex")
	if err != nil {
		return err
	}
	idx, _ := strconv.Atoi(strings.TrimSpace(string(idxb)))
	macb, _ := os.ReadFile(sys + "address")
	mac, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(string(macb)), ":", ""))
	if err != nil || len(mac) != 6 {
		return err
	}
	if err := ifUp(ifname); err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(etherTown)))
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(etherTown), Ifindex: idx}); err != nil {
		return err
	}
	logf("towns: announcing %q on %s (%x)", name, ifname, mac)
	v.mu.Lock()
	v.up = true
	v.mu.Unlock()
	go listenTowns(v, fd, name)

	frame := make([]byte, 0, 60)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	frame = append(frame, mac...)
	frame = append(frame, etherTown>>8, etherTown&0xff)
	frame = append(frame, townMagic...)
	frame = append(frame, byte(len(name)))
	frame = append(frame, name...)
	for len(frame) < 60 {
		frame = append(frame, 0)
	}
	to := &syscall.SockaddrLinklayer{Protocol: htons(etherTown), Ifindex: idx, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for {
		if err := syscall.Sendto(fd, frame, 0, to); err != nil {
			return err
		}
		v.mu.Lock()
		v.nSent++
		v.mu.Unlock()
		time.Sleep(time.Second)
	}
}

func listenTowns(v *townsView, fd int, self string) {
	buf := make([]byte, 2048)
	for {
		n, from, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			logf("towns: receive: %v", err)
			return
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == 4 { // PACKET_OUTGOING: our own
			continue
		}
		p := buf[:n]
		if len(p) < 14+len(townMagic)+1 || p[12] != etherTown>>8 || p[13] != etherTown&0xff {
			continue
		}
		p = p[14:]
		if !bytes.HasPrefix(p, []byte(townMagic)) {
			continue
		}
		p = p[len(townMagic):]
		l := int(p[0])
		if l == 0 || l > 63 || len(p) < 1+l {
			continue
		}
		name := string(p[1 : 1+l])
		if name == self || strings.IndexFunc(name, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			continue
		}
		v.mu.Lock()
		v.heard[name] = time.Now()
		v.nRecv++
		v.mu.Unlock()
	}
}

// ifUp sets IFF_UP on the interface.
func ifUp(name string) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr [40]byte
	copy(ifr[:15], name)
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return e
	}
	*(*uint16)(unsafe.Pointer(&ifr[16])) |= syscall.IFF_UP
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return e
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Package netem delays and drops packets in user space, for kernels without the netem queueing discipline: an
// iptables NFQUEUE rule hands every packet to this process over netlink (nfnetlink_queue), which drops a share of
// them at random and gives the others back to the kernel after a random delay. It is what the benchmarks use to
// play a lossy, jittery network inside a network namespace of their own.
package netem

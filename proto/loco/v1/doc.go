// Package locov1 holds the Go code generated from the Loco Cluster contracts in this folder (buf generate, committed):
// the Broker service that agents attach to, the Ops service for operators, and the messages they share. The
// DataChannel input protocol between browsers and agents is described in input.md beside them.
package locov1

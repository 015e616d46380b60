module github.com/loco-cluster/loco/hack

go 1.26

require golang.org/x/image v0.23.0

module github.com/loco-cluster/loco/hack

go 1.26

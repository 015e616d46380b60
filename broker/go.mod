module github.com/loco-cluster/loco/broker

go 1.26.0

require (
	github.com/loco-cluster/loco/hack v0.0.0
	github.com/loco-cluster/loco/proto v0.0.0
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/grpc v1.85.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	k8s.io/api v0.36.3 // indirect
	k8s.io/apimachinery v0.36.3 // indirect
	k8s.io/client-go v0.36.3 // indirect
)

replace github.com/loco-cluster/loco/proto => ../proto

replace github.com/loco-cluster/loco/hack => ../hack

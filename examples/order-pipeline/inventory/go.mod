module shmq.dev/examples/order-pipeline/inventory

go 1.19

require shmq.dev/shmq v0.0.0

replace shmq.dev/shmq => ../../../bindings/go

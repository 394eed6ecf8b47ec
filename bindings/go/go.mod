module shmq.dev/shmq

go 1.19

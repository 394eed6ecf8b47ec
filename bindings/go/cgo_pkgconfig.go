//go:build shmq_pkgconfig

// cgo flags for building against an installed libshmq (go build -tags
// shmq_pkgconfig): pkg-config supplies the include and library paths.
package shmq

// #cgo pkg-config: shmq
import "C"

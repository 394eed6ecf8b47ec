//go:build !shmq_pkgconfig

// cgo flags for building inside the shmq source tree: the header from
// lib/include, the library from wherever CGO_LDFLAGS=-L<build>/lib points.
package shmq

// #cgo CFLAGS: -I${SRCDIR}/../../lib/include
// #cgo LDFLAGS: -lshmq
import "C"

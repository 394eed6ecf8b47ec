// version.go - the package's version and the loaded library's.
package shmq

// #include <shmq/shmq.h>
import "C"

import "fmt"

// Version is the shmq release this package belongs to (CMakeLists.txt's
// project() version; configuring the build checks this copy against it).
const Version = "0.5.0"

// LibraryVersion is the version of the libshmq the program runs with,
// "major.minor.patch": compare it with Version to catch a mismatch.
func LibraryVersion() string {
	v := uint32(C.shmq_version())
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

# version_check.cmake - the version lives in one place: project() in the top
# CMakeLists.txt. The copies a compiler or an interpreter reads without CMake
# (shmq.h's macros, the Python package, the Go package) must say the same;
# configuring fails naming the file that does not. scripts/version.sh X.Y.Z
# rewrites them all.
function(shmq_expect_version file regex what)
  file(STRINGS "${PROJECT_SOURCE_DIR}/${file}" lines REGEX "${regex}")
  string(REGEX REPLACE ".*${regex}.*" "\\1" found "${lines}")
  if(NOT found STREQUAL what)
    message(FATAL_ERROR "${file} says version '${found}', CMakeLists.txt says ${what}: "
                        "run scripts/version.sh ${PROJECT_VERSION}")
  endif()
endfunction()

shmq_expect_version(lib/include/shmq/shmq.h "#define SHMQ_VERSION_MAJOR ([0-9]+)" ${PROJECT_VERSION_MAJOR})
shmq_expect_version(lib/include/shmq/shmq.h "#define SHMQ_VERSION_MINOR ([0-9]+)" ${PROJECT_VERSION_MINOR})
shmq_expect_version(lib/include/shmq/shmq.h "#define SHMQ_VERSION_PATCH ([0-9]+)" ${PROJECT_VERSION_PATCH})
shmq_expect_version(bindings/python/pyproject.toml "^version = \"([0-9.]+)\"" ${PROJECT_VERSION})
shmq_expect_version(bindings/python/shmq/__init__.py "^__version__ = \"([0-9.]+)\"" ${PROJECT_VERSION})
shmq_expect_version(bindings/go/version.go "^const Version = \"([0-9.]+)\"" ${PROJECT_VERSION})

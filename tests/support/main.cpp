// main.cpp - doctest runner for one test program. Segments go to a private
// directory (SHMQ_DIR) that is removed afterwards, so tests never touch the
// machine's real queues and a crashed test leaves nothing behind.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

int main(int argc, char **argv) {
    char dir[] = "/dev/shm/shmq-test-XXXXXX";
    if (mkdtemp(dir) == nullptr) return 2;
    setenv("SHMQ_DIR", dir, 1);
    pid_t self = getpid();
    doctest::Context ctx(argc, argv);
    int rc = ctx.run();
    if (getpid() == self) std::filesystem::remove_all(dir);
    return rc;
}

// main.cpp - runner of the bridge tests that need the broker: skips (exit 77,
// ctest's SKIP_RETURN_CODE) with the reason when broker.sh could not start
// it (or its TLS listener, for a test run with SHMQ_TEST_NEEDS_TLS);
// otherwise runs doctest with segments in a private SHMQ_DIR.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "peer.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

int main(int argc, char **argv) {
    std::string why;
    if (!bridge_test::Broker::port(&why)) {
        std::printf("SKIPPED: the RabbitMQ test broker is unavailable: %s\n", why.c_str());
        return 77;
    }
    if (std::getenv("SHMQ_TEST_NEEDS_TLS") != nullptr && !bridge_test::Broker::tls_port(&why)) {
        std::printf("SKIPPED: the RabbitMQ test broker has %s\n", why.c_str());
        return 77;
    }
    char dir[] = "/dev/shm/shmq-test-XXXXXX";
    if (mkdtemp(dir) == nullptr) return 2;
    setenv("SHMQ_DIR", dir, 1);
    pid_t self = getpid();
    doctest::Context ctx(argc, argv);
    int rc = ctx.run();
    if (getpid() == self) std::filesystem::remove_all(dir);
    return rc;
}

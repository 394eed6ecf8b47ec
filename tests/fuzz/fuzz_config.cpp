// fuzz_config.cpp - libFuzzer target: any text given to shmqd as its
// configuration is either accepted or refused with a message, never a crash.
#include "config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    shmqd::ConfigResult r = shmqd::parse_config(text, "fuzz.toml", "/tmp");
    if (!r.ok() && r.error.empty()) abort(); // refused without saying why
    return 0;
}

// names.cpp - queue name rule and store file names (names.hpp). Mirrors
// lib/src/names.cpp; tests/store/test_store_dead_letters.cpp compares them.
#include "names.hpp"

namespace shmq::store {

constexpr size_t kNameMax = 64; // SHMQ_NAME_MAX

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool valid_queue_name(std::string_view name) {
    if (name.empty() || name.size() > kNameMax) return false;
    bool only_dots = true;
    for (char c : name) {
        if (!name_char(c)) return false;
        only_dots = only_dots && c == '.';
    }
    return !only_dots;
}

std::string dlq_file(std::string_view queue) { return std::string(queue) + ".dlq"; }
std::string spill_file(std::string_view queue) { return std::string(queue) + ".spill"; }
std::string cursor_file(std::string_view queue) { return std::string(queue) + ".spill.cursor"; }

} // namespace shmq::store

// names.cpp - queue name validation (names.hpp).
#include "names.hpp"

#include "shmq/shmq.h"

namespace shmq::detail {

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int check_name(const char *name) {
    if (name == nullptr) return SHMQ_EBADNAME;
    bool only_dots = true;
    int n = 0;
    for (; name[n] != '\0'; ++n) {
        if (n >= SHMQ_NAME_MAX || !name_char(name[n])) return SHMQ_EBADNAME;
        only_dots = only_dots && name[n] == '.';
    }
    return n == 0 || only_dots ? SHMQ_EBADNAME : SHMQ_OK;
}

} // namespace shmq::detail

// headers_json.cpp - header blocks as JSON (headers_json.hpp).
#include "headers_json.hpp"

#include "shmq/shmq.h"

#include <string>

namespace shmqd {

nlohmann::json headers_json(const void *block, size_t len) {
    nlohmann::json out = nlohmann::json::object();
    size_t pos = 0, kl, vl;
    const char *k, *v;
    int rc;
    while ((rc = shmq_headers_next(block, len, &pos, &k, &kl, &v, &vl)) == SHMQ_OK)
        out[std::string(k, kl)] = std::string(v, vl);
    return rc == SHMQ_EEMPTY ? out : nlohmann::json(nullptr);
}

} // namespace shmqd

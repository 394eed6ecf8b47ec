// headers_json.cpp - header blocks as JSON (headers_json.hpp).
#include "headers_json.hpp"

#include <cstring>
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

bool headers_from_json(const std::string &text, nlohmann::json *j, std::vector<shmq_header> *pairs,
                       std::string *why) {
    *j = nlohmann::json::parse(text, nullptr, false);
    if (j->is_discarded() || !j->is_object()) {
        *why = "not a JSON object";
        return false;
    }
    pairs->clear();
    for (auto it = j->begin(); it != j->end(); ++it) {
        if (!it.value().is_string()) {
            *why = "header " + it.key() + ": the value is not a string";
            return false;
        }
        const std::string &k = it.key(), &v = it.value().get_ref<const std::string &>();
        if (k.find('\0') != std::string::npos || v.find('\0') != std::string::npos) {
            *why = "a key or value contains a NUL character";
            return false;
        }
        pairs->push_back(shmq_header{k.c_str(), v.c_str()});
    }
    return true;
}

} // namespace shmqd

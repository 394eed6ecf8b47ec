// names.hpp - queue names as they reach the store, and the files named after
// them. The rule is the core's (shmq_name_check): [A-Za-z0-9._-]{1,64}, not
// only dots. It is restated here so the store needs no link to the core; a test
// holds the two to the same answers.
#pragma once

#include <string>
#include <string_view>

namespace shmq::store {

bool valid_queue_name(std::string_view name);

// "<queue>.dlq", "<queue>.spill", "<queue>.spill.cursor". No two queues' files
// share a name: each kind has its own suffix, and temporary files end in ".tmp".
std::string dlq_file(std::string_view queue);
std::string spill_file(std::string_view queue);
std::string cursor_file(std::string_view queue);

} // namespace shmq::store

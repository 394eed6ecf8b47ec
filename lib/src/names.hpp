// names.hpp - queue name validation, the one gate every name passes through.
#pragma once

namespace shmq::detail {

// SHMQ_OK if `name` is [A-Za-z0-9._-]{1,64} and not made of dots only
// ("." and ".." would read as directories wherever a name becomes a path).
int check_name(const char *name);

} // namespace shmq::detail

#include "os/open_files_limit.h"

#include <algorithm>

namespace memvisor {

rlim_t raise_open_files_limit(rlim_t wanted) {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return 1024;
  const rlim_t target = std::min(wanted, files.rlim_max);
  if (files.rlim_cur < target) {
    files.rlim_cur = target;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
    (void)::getrlimit(RLIMIT_NOFILE, &files);
  }
  return files.rlim_cur;
}

}  // namespace memvisor

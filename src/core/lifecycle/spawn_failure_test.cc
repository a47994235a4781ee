// spawn_failure_message: the limit named for the errors that mean one, nothing invented else.
#include "core/lifecycle/spawn_failure.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(SpawnFailure, NamesTheLimitThatWasReached) {
  const std::string pids = spawn_failure_message(Error{"fork for /bin/app", EAGAIN});
  EXPECT_NE(pids.find("fork for /bin/app: Resource temporarily unavailable"), std::string::npos);
  EXPECT_NE(pids.find("pids.max"), std::string::npos) << pids;
  const std::string files = spawn_failure_message(Error{"pipe", EMFILE});
  EXPECT_NE(files.find("RLIMIT_NOFILE"), std::string::npos) << files;
  // Negative control: a missing program is not a limit.
  const std::string missing = spawn_failure_message(Error{"execute 'nosuch'", ENOENT});
  EXPECT_EQ(missing, "cannot start: execute 'nosuch': No such file or directory");
}

}  // namespace
}  // namespace memvisor

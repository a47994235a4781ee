// KernelLogReader on the real /dev/kmsg: it starts at the end, and a record a process writes
// there (LOG_USER, whatever it says) never names a victim. Real OOM kills are the integration
// tests' (tests/integration/oom_kill_test.cc).
#include "os/kernel_log_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace memvisor {
namespace {

TEST(KernelLogReader, AProcessCannotForgeAVictim) {
  auto reader = KernelLogReader::open();
  if (!reader) GTEST_SKIP() << "the kernel log is not readable here: " << reader.error().describe();
  const int kmsg = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (kmsg < 0) GTEST_SKIP() << "cannot write /dev/kmsg here";
  // Priority 3 asks for facility 0 (the kernel's); the kernel files it under LOG_USER.
  const std::string forged = "<3>Out of memory: Killed process " + std::to_string(::getpid()) +
                             " (memvisor-test) total-vm:1kB\n";
  ASSERT_EQ(::write(kmsg, forged.data(), forged.size()), static_cast<ssize_t>(forged.size()));
  ::close(kmsg);
  for (const OomKillRecord& kill : reader->oom_kills()) EXPECT_NE(kill.pid, ::getpid());
}

TEST(KernelLogReader, AMissingDeviceIsAClearError) {
  auto reader = KernelLogReader::open("/nonexistent/kmsg");
  ASSERT_FALSE(reader);
  EXPECT_NE(reader.error().describe().find("/nonexistent/kmsg"), std::string::npos);
}

}  // namespace
}  // namespace memvisor

// PSI files and triggers: which file each source names, a plain file refused as a trigger
// target (and left as it was), and a real trigger on this kernel where PSI is on.
#include "os/psi_trigger.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <fstream>

#include "os/files.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

void write_psi_fixture(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(PsiTrigger, SourceFiles) {
  TestTempDir dir;
  ASSERT_TRUE(make_directories(dir.path() + "/proc/self", 0755));
  ASSERT_TRUE(make_directories(dir.path() + "/cg/unified/app.slice/web.service", 0755));
  EXPECT_EQ(*psi_file_of("host", dir.path() + "/proc", dir.path() + "/cg"),
            dir.path() + "/proc/pressure/memory");
  EXPECT_EQ(*psi_file_of("/x/memory.pressure", dir.path() + "/proc", dir.path() + "/cg"),
            "/x/memory.pressure");
  // cgroup v1 only: no memory.pressure, and the error says why.
  write_psi_fixture(dir.path() + "/proc/self/cgroup", "4:memory:/web\n");
  auto v1 = psi_file_of("cgroup", dir.path() + "/proc", dir.path() + "/cg");
  ASSERT_FALSE(v1);
  EXPECT_NE(v1.error().message.find("cgroup v2"), std::string::npos);
  // A hybrid host whose memory controller is on v1, memvisor in v2's root: that root's file is
  // the host's, not memvisor's cgroup's; said, not watched in its place.
  write_psi_fixture(dir.path() + "/proc/self/cgroup", "4:memory:/web\n0::/\n");
  write_psi_fixture(dir.path() + "/cg/unified/memory.pressure", "");
  auto hybrid = psi_file_of("cgroup", dir.path() + "/proc", dir.path() + "/cg");
  ASSERT_FALSE(hybrid) << *hybrid;
  EXPECT_NE(hybrid.error().message.find("memory cgroup /web is on cgroup v1"), std::string::npos)
      << hybrid.error().message;
  // v2 only, "/": a container's own cgroup namespace, whose file is its own.
  write_psi_fixture(dir.path() + "/proc/self/cgroup", "0::/\n");
  EXPECT_EQ(*psi_file_of("cgroup", dir.path() + "/proc", dir.path() + "/cg"),
            dir.path() + "/cg/unified/memory.pressure");
  // A hybrid host, memvisor moved into its leaf "main": the parent's file, under unified/.
  write_psi_fixture(dir.path() + "/proc/self/cgroup",
                    "4:memory:/web\n0::/app.slice/web.service/main\n");
  write_psi_fixture(dir.path() + "/cg/unified/app.slice/web.service/memory.pressure", "");
  EXPECT_EQ(*psi_file_of("cgroup", dir.path() + "/proc", dir.path() + "/cg"),
            dir.path() + "/cg/unified/app.slice/web.service/memory.pressure");
}

TEST(PsiTrigger, PlainFileIsNotArmed) {
  TestTempDir dir;
  const std::string fixture = dir.path() + "/memory";
  const std::string text = "some avg10=50.00 avg60=0.00 avg300=0.00 total=1\n";
  write_psi_fixture(fixture, text);
  auto armed = arm_psi_trigger(fixture, "some 100000 2000000");
  ASSERT_FALSE(armed);
  EXPECT_NE(armed.error().message.find("not a kernel PSI file"), std::string::npos);
  EXPECT_EQ(*read_file(fixture), text);
}

TEST(PsiTrigger, RealTriggerWhereTheKernelHasPsi) {
  if (!read_file("/proc/pressure/memory")) GTEST_SKIP() << "no PSI in this kernel";
  // A 2 s window is accepted from unprivileged writers too; a 1 ms stall threshold.
  auto armed = arm_psi_trigger("/proc/pressure/memory", "some 1000 2000000");
  ASSERT_TRUE(armed) << armed.error().describe();
  pollfd p{armed->get(), POLLPRI, 0};
  // Only that polling it works and does not report an error; whether it fires depends on the
  // machine's memory.
  ASSERT_GE(::poll(&p, 1, 0), 0);
  EXPECT_EQ(p.revents & (POLLERR | POLLNVAL), 0);
  // A window the kernel refuses.
  EXPECT_FALSE(arm_psi_trigger("/proc/pressure/memory", "some 1000 100000000"));
}

}  // namespace
}  // namespace memvisor

#include "runtimes/jvm/jvm_target.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "os/test_temp_dir.h"
#include "runtimes/jvm/jvm_test_fixtures.h"

namespace memvisor {
namespace {

TEST(JvmTarget, StatusOfARealJvm) {
  auto ids = parse_status_ids(jvm_fixture("proc_status_java.txt"));
  ASSERT_TRUE(ids.has_value());
  EXPECT_EQ(ids->nspid, 3887);
  EXPECT_EQ(ids->euid, 0u);
  EXPECT_EQ(ids->egid, 0u);
  EXPECT_NE(ids->caught_signals & (uint64_t{1} << (SIGQUIT - 1)), 0u);
}

TEST(JvmTarget, StatusInAPidNamespaceAndWithoutNSpid) {
  auto nested = parse_status_ids(
      "Name:\tjava\nPid:\t4242\nUid:\t1000\t1001\t1001\t1001\nGid:\t50\t51\t51\t51\n"
      "NSpid:\t4242\t7\nSigCgt:\t0000000000000004\n");
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->nspid, 7);
  EXPECT_EQ(nested->euid, 1001u);
  EXPECT_EQ(nested->egid, 51u);
  EXPECT_EQ(nested->caught_signals, 4u);
  auto old_kernel = parse_status_ids("Pid:\t12\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nSigCgt:\t0\n");
  ASSERT_TRUE(old_kernel.has_value());
  EXPECT_EQ(old_kernel->nspid, 12);
  EXPECT_FALSE(parse_status_ids("Name:\tx\n").has_value());
}

TEST(JvmTarget, LibjvmOfARealJvm) {
  EXPECT_EQ(libjvm_path(jvm_fixture("proc_maps_java.txt")),
            "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so");
  EXPECT_FALSE(is_openj9(jvm_fixture("proc_maps_java.txt")));
  EXPECT_EQ(libjvm_path("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n"), "");
  EXPECT_EQ(libjvm_path("7f00-7f01 r-xp 0 08:01 1 /opt/jdk/lib/server/libjvm.so (deleted)\n"),
            "/opt/jdk/lib/server/libjvm.so");
  EXPECT_EQ(libjvm_path("7f00-7f01 r-xp 0 08:01 1 /opt/x/libjvm.so.bak\n"), "");
  EXPECT_TRUE(is_openj9("7f00-7f01 r-xp 0 08:01 1 /opt/j9/lib/default/libj9vm29.so\n"));
}

TEST(JvmTarget, DisableAttachMechanismLastOneWins) {
  EXPECT_FALSE(disables_attach(""));
  EXPECT_TRUE(disables_attach(std::string("java\0-XX:+DisableAttachMechanism\0Main\0", 38)));
  EXPECT_TRUE(disables_attach("-Xmx1g -XX:+DisableAttachMechanism"));
  EXPECT_FALSE(disables_attach("-XX:+DisableAttachMechanism -XX:-DisableAttachMechanism"));
  EXPECT_FALSE(disables_attach("-XX:+DisableAttachMechanismX"));
}

// A /proc/PID of a fake process under a temporary root, as this user: status, maps, cmdline and
// a perf-data file in its /tmp.
class FakeJvm {
 public:
  explicit FakeJvm(const TestTempDir& dir, int pid = 4242) : pid_(pid) {
    dir_ = dir.path() + "/" + std::to_string(pid);
    std::filesystem::create_directories(dir_ + "/root/tmp/hsperfdata_me");
    write("status", "Name:\tjava\nUid:\t0\t" + std::to_string(::geteuid()) + "\t0\t0\nGid:\t0\t" +
                        std::to_string(::getegid()) + "\t0\t0\nNSpid:\t" + std::to_string(pid) +
                        "\nSigCgt:\t0000000101005ccd\n");
    write("maps", jvm_fixture("proc_maps_java.txt"));
    write("cmdline", std::string("java\0Main\0", 10));
  }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
  }
  void perf_data(const std::string& fixture) const {
    write("root/tmp/hsperfdata_me/" + std::to_string(pid_), jvm_fixture(fixture));
  }

 private:
  std::string dir_;
  int pid_;
};

TEST(JvmTarget, AnAttachableJvm) {
  TestTempDir dir;
  FakeJvm jvm(dir);
  jvm.perf_data("hsperfdata_attachable");
  auto target = inspect_jvm(4242, dir.path());
  ASSERT_TRUE(target.ok()) << target.error().message;
  EXPECT_EQ(target->ids.nspid, 4242);
  EXPECT_EQ(target->java_home, "/usr/lib/jvm/java-17-openjdk-amd64");
  EXPECT_EQ(target->root, dir.path() + "/4242/root");
  ASSERT_TRUE(target->perf.has_value());
  EXPECT_TRUE(target->perf->heap_used().has_value());
}

TEST(JvmTarget, RefusedBeforeAnythingIsSent) {
  TestTempDir dir;
  {
    FakeJvm jvm(dir, 1);
    jvm.perf_data("hsperfdata_attach_disabled");
    auto target = inspect_jvm(1, dir.path());
    ASSERT_FALSE(target.ok());
    EXPECT_NE(target.error().message.find("-XX:+DisableAttachMechanism"), std::string::npos);
  }
  {
    // No perf data (-XX:-UsePerfData): the flag is looked for on the command line.
    FakeJvm jvm(dir, 2);
    jvm.write("cmdline", std::string("java\0-XX:+DisableAttachMechanism\0Main\0", 38));
    auto target = inspect_jvm(2, dir.path());
    ASSERT_FALSE(target.ok());
    EXPECT_NE(target.error().message.find("-XX:+DisableAttachMechanism"), std::string::npos);
  }
  {
    FakeJvm jvm(dir, 3);
    jvm.write("maps", "55d0-55d1 r-xp 0 08:01 1 /usr/bin/python3.11\n");
    auto target = inspect_jvm(3, dir.path());
    ASSERT_FALSE(target.ok());
    EXPECT_NE(target.error().message.find("not a HotSpot JVM"), std::string::npos);
  }
  {
    FakeJvm jvm(dir, 4);
    jvm.write("maps", jvm_fixture("proc_maps_java.txt") +
                          "7f00-7f01 r-xp 0 08:01 1 /opt/j9/lib/default/libj9vm29.so\n");
    auto target = inspect_jvm(4, dir.path());
    ASSERT_FALSE(target.ok());
    EXPECT_NE(target.error().message.find("OpenJ9"), std::string::npos);
  }
  EXPECT_FALSE(inspect_jvm(99, dir.path()).ok());
}

TEST(JvmTarget, AnotherUsersJvmNeedsRoot) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may attach to any user's JVM";
  TestTempDir dir;
  FakeJvm jvm(dir);
  jvm.write("status", "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t4242\nSigCgt:\t4\n");
  auto target = inspect_jvm(4242, dir.path());
  ASSERT_FALSE(target.ok());
  EXPECT_NE(target.error().message.find("its own user or root"), std::string::npos);
}

}  // namespace
}  // namespace memvisor

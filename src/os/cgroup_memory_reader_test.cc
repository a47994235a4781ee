// CgroupMemoryReader on the captured hybrid v1 tree, the documented v2 tree, temp trees for the
// edge cases, and this machine's own cgroup.
#include "os/cgroup_memory_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include "os/memory_reader.h"
#include "os/test_temp_dir.h"

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

const std::string kFixtures = fixture_path("memory");
const std::string kCgroupProc = kFixtures + "/proc";

TEST(CgroupMemoryReader, DetectsV1OnTheCapturedHybridHost) {
  // unified/cgroup.controllers lacks "memory": the v1 controller at memory/ is the one to read.
  auto reader = CgroupMemoryReader::detect(kFixtures + "/sysfs_cgroup_hybrid", kCgroupProc);
  ASSERT_TRUE(reader.ok()) << reader.error().describe();
  EXPECT_EQ(reader->version(), CgroupVersion::kV1);
  EXPECT_EQ(reader->hierarchy(), kFixtures + "/sysfs_cgroup_hybrid/memory");
  auto path = reader->cgroup_of(16638);
  ASSERT_TRUE(path.ok()) << path.error().describe();
  EXPECT_EQ(*path, "/process_api/6e1997783d06687e07877bb830f2a3d6");
}

TEST(CgroupMemoryReader, ReadsCapturedV1Groups) {
  auto reader = CgroupMemoryReader::detect(kFixtures + "/sysfs_cgroup_hybrid", kCgroupProc);
  ASSERT_TRUE(reader.ok());
  auto limited = reader->read("/limited");
  ASSERT_TRUE(limited.ok()) << limited.error().describe();
  EXPECT_EQ(limited->current, 60108800u);
  EXPECT_EQ(limited->limit, 256u * 1024 * 1024);
  EXPECT_EQ(limited->anon, 59465728u);
  EXPECT_EQ(limited->file, 241664u);
  EXPECT_EQ(limited->shmem, 0u);
  EXPECT_EQ(limited->swap, 0u);
  EXPECT_EQ(limited->events.max, 0u);
  EXPECT_EQ(limited->events.oom_kill, 0u);
  EXPECT_FALSE(limited->pressure.has_value());

  auto killed = reader->read("oom_killed/");
  ASSERT_TRUE(killed.ok()) << killed.error().describe();
  EXPECT_EQ(killed->current, 176128u);
  EXPECT_EQ(killed->limit, 32u * 1024 * 1024);
  EXPECT_EQ(killed->anon, 0u);
  EXPECT_EQ(killed->events.max, 85u);
  EXPECT_EQ(killed->events.oom_kill, 1u);

  auto root = reader->read("/");
  ASSERT_TRUE(root.ok()) << root.error().describe();
  EXPECT_EQ(root->current, 2601111552u);
  EXPECT_EQ(root->limit, kNoMemoryLimit);
  EXPECT_EQ(root->anon, 905351168u);   // total_rss: the subtree, like usage_in_bytes
  EXPECT_EQ(root->file, 1695666176u);  // total_cache
  EXPECT_EQ(root->shmem, 9097216u);
}

TEST(CgroupMemoryReader, ReadsDocumentedV2Group) {
  auto reader = CgroupMemoryReader::detect(kFixtures + "/sysfs_cgroup_v2", kCgroupProc);
  ASSERT_TRUE(reader.ok()) << reader.error().describe();
  EXPECT_EQ(reader->version(), CgroupVersion::kV2);
  EXPECT_EQ(reader->hierarchy(), kFixtures + "/sysfs_cgroup_v2");
  EXPECT_EQ(*reader->cgroup_of(16638), "/");
  auto web = reader->read("/workers/web");
  ASSERT_TRUE(web.ok()) << web.error().describe();
  EXPECT_EQ(web->current, 70938624u);
  EXPECT_EQ(web->limit, 128u * 1024 * 1024);
  EXPECT_EQ(web->anon, 58720256u);
  EXPECT_EQ(web->file, 9437184u);
  EXPECT_EQ(web->shmem, 1048576u);
  EXPECT_EQ(web->swap, 1048576u);
  EXPECT_EQ(web->events.high, 12u);
  EXPECT_EQ(web->events.max, 3u);
  EXPECT_EQ(web->events.oom, 1u);
  EXPECT_EQ(web->events.oom_kill, 1u);
  ASSERT_TRUE(web->pressure.has_value());
  EXPECT_DOUBLE_EQ(web->pressure->some.avg10, 1.52);
  EXPECT_EQ(web->pressure->full.total_us, 2113456u);
  auto host = reader->read_host_pressure();
  ASSERT_TRUE(host.ok()) << host.error().describe();
  EXPECT_EQ(host->some.total_us, 427u);
}

TEST(CgroupMemoryReader, MissingAndEscapingPaths) {
  auto reader = CgroupMemoryReader::detect(kFixtures + "/sysfs_cgroup_v2", kCgroupProc);
  ASSERT_TRUE(reader.ok());
  auto missing = reader->read("/workers/none");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum, ENOENT);
  auto escaping = reader->read("/workers/../../sysfs_cgroup_hybrid");
  ASSERT_FALSE(escaping.ok());
  EXPECT_EQ(escaping.error().errnum, EINVAL);
  auto no_pid = reader->cgroup_of(99999);
  ASSERT_FALSE(no_pid.ok());
  EXPECT_EQ(no_pid.error().errnum, ENOENT);
}

class CgroupMemoryTempTree : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(root_.ok()); }
  void write(const std::string& name, const std::string& text) {
    const std::string path = root_ / name;
    const size_t slash = path.rfind('/');
    ::mkdir(path.substr(0, slash).c_str(), 0755);
    std::ofstream(path) << text;
  }
  TestTempDir root_;
};

TEST_F(CgroupMemoryTempTree, NoControllerAnywhere) {
  write("unified/cgroup.controllers", "cpu io hugetlb\n");
  auto reader = CgroupMemoryReader::detect(root_.path());
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.error().errnum, ENOENT);
}

TEST_F(CgroupMemoryTempTree, HybridWithMemoryInUnified) {
  write("unified/cgroup.controllers", "cpu memory\n");
  write("unified/g/memory.current", "8192\n");
  write("unified/g/memory.stat", "anon 4096\nfile 4096\nshmem 0\n");
  auto reader = CgroupMemoryReader::detect(root_.path());
  ASSERT_TRUE(reader.ok()) << reader.error().describe();
  EXPECT_EQ(reader->version(), CgroupVersion::kV2);
  EXPECT_EQ(reader->hierarchy(), root_ / "unified");
  // Only the required files: limit, swap, events and pressure keep their defaults.
  auto sample = reader->read("/g");
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_EQ(sample->current, 8192u);
  EXPECT_EQ(sample->limit, kNoMemoryLimit);
  EXPECT_EQ(sample->swap, 0u);
  EXPECT_EQ(sample->events.oom_kill, 0u);
  EXPECT_FALSE(sample->pressure.has_value());

  write("unified/g/memory.events", "low 0\nhigh x\n");
  auto malformed = reader->read("/g");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().message, "parse " + (root_ / "unified/g/memory.events"));
}

TEST(CgroupMemoryReaderReal, OwnCgroup) {
  auto reader = CgroupMemoryReader::detect();
  if (!reader.ok()) {
    GTEST_SKIP() << "no cgroup memory controller on this machine: " << reader.error().describe();
  }
  auto path = reader->cgroup_of(::getpid());
  ASSERT_TRUE(path.ok()) << path.error().describe();
  // Pages are charged to the cgroup that first touches them: touch 16 MiB here.
  std::vector<char> touched(16 << 20, 1);
  auto sample = reader->read(*path);
  if (!sample.ok() && sample.error().errnum == ENOENT) {
    // The v2 root cgroup, or a v2 cgroup whose parent does not enable the memory controller.
    GTEST_SKIP() << "no memory accounting for cgroup " << *path << ": "
                 << sample.error().describe();
  }
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_GE(sample->current, touched.size());
  EXPECT_GE(sample->anon, touched.size());
  EXPECT_GT(sample->limit, 0u);
}

TEST(CgroupMemoryReaderReal, HostPressure) {
  if (::access("/proc/pressure/memory", R_OK) != 0) {
    GTEST_SKIP() << "/proc/pressure/memory is absent (kernel without PSI)";
  }
  auto pressure = read_host_memory_pressure();
  ASSERT_TRUE(pressure.ok()) << pressure.error().describe();
  EXPECT_GE(pressure->some.total_us, pressure->full.total_us);
  EXPECT_GE(pressure->some.avg300, 0.0);
}

}  // namespace
}  // namespace memvisor

// memvisor under resource faults, on the real binary: a state dir on a full disk (a 256 KiB
// tmpfs, filled up and freed again), too few descriptors (RLIMIT_NOFILE) and too few processes
// (a pids cgroup's pids.max) when spawning. Each: one clear message, nothing half-written, the
// rules and the restart backoff go on, no crash, no busy loop, and recovery once the resource is
// back. The setups need root (mount, cgroupfs, prlimit on a running process); each skips, saying
// why, where the kernel refuses it.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.h"

namespace memvisor::testing::faults {
namespace {

// Instances `status` shows running (0 while the supervisor does not answer).
int running_instances(const Memvisor& memvisor) {
  const auto status = memvisor.status();
  if (!status.is_object()) return 0;
  int running = 0;
  for (const auto& record : status["instances"]) running += record.value("state", "") == "running";
  return running;
}

namespace fs = std::filesystem;

// Backoff from 200 ms to 1 s, and no crash-loop circuit: a test of minutes sees the recovery.
const std::string kQuickRetries =
    "restart_delay = \"200ms\"\nrestart_delay_max = \"1s\"\ncircuit_failures = 1000\n";

// A tmpfs of `size` mounted at `path` for the test's life; unmounted (lazily) at the end.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, const std::string& size) : path_(path) {
    fs::create_directories(path);
    const std::string options = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

  // Fills what is left with one file; returns its path. Writes stop at the first ENOSPC.
  std::string fill() const {
    const std::string filler = path_ + "/filler";
    std::FILE* file = std::fopen(filler.c_str(), "w");
    if (file == nullptr) return filler;
    std::setvbuf(file, nullptr, _IONBF, 0);
    const std::string chunk(4096, 'x');
    while (std::fwrite(chunk.data(), 1, chunk.size(), file) == chunk.size()) {
    }
    (void)std::fwrite(chunk.data(), 1, 1, file);  // the last partial page, byte by byte
    for (int i = 0; i < 4096 && std::fwrite("x", 1, 1, file) == 1; ++i) {
    }
    std::fclose(file);
    return filler;
  }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The newest generation of SERVICE.NUMBER in `status` (0 when absent).
int generation_of(const nlohmann::json& status, const std::string& service, int number) {
  int generation = 0;
  if (!status.is_object() || !status.contains("instances")) return 0;
  for (const auto& record : status["instances"]) {
    if (record.value("service", "") == service && record.value("instance", 0) == number) {
      generation = std::max(generation, record.value("generation", 0));
    }
  }
  return generation;
}

TEST(Faults, FullDiskDropsWholeLinesSaysSoOnceAndResumes) {
  TempDir dir;
  SmallDisk disk(dir.file("state"), "256k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.why();

  // chat prints a numbered line every 20 ms into its log (output = "file", in the state dir);
  // hog grows 5 MiB per 100 ms, so its limit recycles it every few seconds (python3 -S: no site
  // imports to wait for): events keep coming, and the rule must keep acting while nothing can be
  // written.
  const std::string hog = dir.write("grow.py", kGrowingPython);
  const std::string config = dir.write(
      "f.toml",
      "[service.chat]\nshell = true\ncommand = \"i=0; while :; do printf 'chat %06d "
      "abcdefghijklmnopqrstuvwxyz\\n' $i; i=$((i+1)); sleep 0.02; done\"\noutput = \"file\"\n"
      "[service.hog]\ncommand = [\"python3\", \"-S\", \"" +
          hog + "\"]\ninterval = \"100ms\"\nlimit = \"40MiB\"\n");
  Memvisor memvisor(dir, {config});
  const std::string state = memvisor.state_dir();
  const std::string chat_log = state + "/logs/chat.1.log";
  ASSERT_TRUE(eventually([&] { return lines_of(read_text(chat_log)).size() > 20; }, 30s))
      << memvisor.err();
  ASSERT_GE(memvisor.wait_events("recycled", 1, 30s, "hog.1").size(), 1u) << memvisor.err();

  const std::string filler = disk.fill();
  // Full: the hog is still recycled (status comes over the socket, which needs no space).
  const int generation = generation_of(memvisor.status(), "hog", 1);
  ASSERT_GT(generation, 0);
  ASSERT_TRUE(
      eventually([&] { return generation_of(memvisor.status(), "hog", 1) >= generation + 1; }, 60s))
      << "the limit rule stopped acting on a full disk\n"
      << memvisor.err();
  // A dump cannot be written: it fails, and leaves neither a bundle nor its temp dir behind.
  auto dump = run_memvisor({"dump", "chat.1", "--state-dir", state}, 60s);
  EXPECT_NE(dump.exit_code, 0) << dump.out;
  if (fs::exists(state + "/incidents")) {
    for (const auto& entry : fs::directory_iterator(state + "/incidents")) {
      ADD_FAILURE() << "left on a full disk: " << entry.path();
    }
  }
  ASSERT_TRUE(eventually(
      [&] { return memvisor.err().find("chat.1.log: cannot write") != std::string::npos; }, 10s))
      << memvisor.err();

  // Space returns: writing resumes, each file's outage summed up once.
  fs::remove(filler);
  ASSERT_TRUE(eventually(
      [&] {
        const std::string err = memvisor.err();
        return err.find("chat.1.log: ") != std::string::npos &&
               err.find("lines dropped while the disk was full") != std::string::npos &&
               err.find("events.jsonl: ") != std::string::npos;
      },
      30s))
      << memvisor.err();
  const int after = generation_of(memvisor.status(), "hog", 1);
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& e : memvisor.events("recycled", "hog.1")) {
          if (e.value("generation", 0) > after) return true;
        }
        return false;
      },
      30s))
      << "no event written after space returned\n"
      << memvisor.err();
  const size_t lines_then = lines_of(read_text(chat_log)).size();
  ASSERT_TRUE(
      eventually([&] { return lines_of(read_text(chat_log)).size() > lines_then + 10; }, 10s));

  // One message per outage and file, not one per line: events.jsonl has two writers (controller
  // and supervisor), each says it once per outage. A nearly full disk can end an outage for a
  // moment (a short line fits where a long one did not), so a writer may say it again: a few
  // messages, never one per dropped line.
  const std::string err = memvisor.err();
  EXPECT_LE(count_of(err, "chat.1.log: cannot write"), 3u) << err;
  EXPECT_GE(count_of(err, "events.jsonl: cannot write"), 1u) << err;
  EXPECT_LE(count_of(err, "events.jsonl: cannot write"), 6u) << err;
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  // Nothing half-written: every event line is whole JSON, every log line a whole chat line.
  for (const std::string& line : lines_of(read_text(state + "/events.jsonl"))) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << "a partial event line: " << line;
  }
  const std::regex chat_line("chat [0-9]{6} abcdefghijklmnopqrstuvwxyz");
  const std::string log_text = read_text(chat_log);
  ASSERT_FALSE(log_text.empty());
  EXPECT_EQ(log_text.back(), '\n');
  for (const std::string& line : lines_of(log_text)) {
    EXPECT_TRUE(std::regex_match(line, chat_line)) << "a partial log line: '" << line << "'";
  }
  // And a dump works again.
  dump = run_memvisor({"dump", "chat.1", "--state-dir", state}, 60s);
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_TRUE(process_alive(memvisor.pid()));
}

// A read-only file system under the incidents: `critical` still stops the worker (and again at
// each crossing), its crash report and bundle fail with one message, nothing is left half-made,
// and once the mount is writable again the next report and a dump are written. (events.jsonl
// and the logs take the same path as a full disk; a tmpfs cannot be made read-only while they
// are open for writing, so the incidents directory stands in for every file memvisor creates.)
TEST(Faults, ReadOnlyIncidentsFailCleanlyAndResume) {
  TempDir dir;
  const std::string incidents = dir.file("state") + "/incidents";
  fs::create_directories(incidents);
  if (::mount("tmpfs", incidents.c_str(), "tmpfs", MS_RDONLY, "size=4m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{incidents};

  const std::string hog = dir.write("grow.py", kGrowingPython);
  const std::string config =
      dir.write("r.toml", "[service.hog]\ncommand = [\"python3\", \"-S\", \"" + hog +
                              "\"]\ninterval = \"100ms\"\ncritical = \"40MiB\"\n" + kQuickRetries);
  Memvisor memvisor(dir, {config});
  const std::string state = memvisor.state_dir();
  // Two criticals: the rule acts each time, the read-only disk is said once.
  ASSERT_GE(memvisor.wait_events("rule", 2, 60s, "hog.1").size(), 2u) << memvisor.err();
  ASSERT_TRUE(eventually([&] { return generation_of(memvisor.status(), "hog", 1) >= 3; }, 60s))
      << "critical stopped acting on a read-only disk\n"
      << memvisor.err();
  const std::string err = memvisor.err();
  EXPECT_EQ(count_of(err, "crash reports: cannot write"), 1u) << err;
  EXPECT_NE(err.find("Read-only file system"), std::string::npos) << err;
  auto dump = run_memvisor({"dump", "hog.1", "--state-dir", state}, 60s);
  EXPECT_NE(dump.exit_code, 0) << dump.out;
  EXPECT_TRUE(fs::is_empty(incidents)) << "something was written on a read-only mount";

  // Writable again: the next critical's report and bundle, and a dump, are written.
  ASSERT_EQ(::mount(nullptr, incidents.c_str(), nullptr, MS_REMOUNT, "size=4m"), 0)
      << std::strerror(errno);
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& entry : fs::directory_iterator(incidents)) {
          if (entry.path().filename().string().starts_with("memvisor-crash-")) return true;
        }
        return false;
      },
      60s))
      << memvisor.err();
  EXPECT_TRUE(eventually(
      [&] {
        return memvisor.err().find("dropped while the file system was read-only; writing again") !=
               std::string::npos;
      },
      10s))
      << memvisor.err();
  dump = run_memvisor({"dump", "hog.1", "--state-dir", state}, 60s);
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  for (const auto& entry : fs::directory_iterator(incidents)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp"))
        << "a half-made bundle is visible: " << entry.path();
  }
  EXPECT_TRUE(process_alive(memvisor.pid()));
}

// Spawn failures stay bounded: `failed` spawn_failed events over a 3 s window, far fewer than a
// loop retrying without backoff would write (thousands).
size_t spawn_failures(const Memvisor& memvisor) {
  return memvisor.events("spawn_failed").size();
}

TEST(Faults, TooFewDescriptorsFailStartsWithBackoffAndRecover) {
  if (::geteuid() != 0 || !have_program("prlimit")) GTEST_SKIP() << "needs root and prlimit";
  TempDir dir;
  // 40 descriptors: memvisor and its supervisor start, a few of the 12 instances do, the rest
  // fail at spawn (pipes, notify socket, pidfd) with EMFILE.
  const std::string config = dir.write("n.toml",
                                       "[service.many]\ncommand = [\"sleep\", \"600\"]\n"
                                       "instances = 12\n" +
                                           kQuickRetries);
  Memvisor memvisor(dir, {config}, {"prlimit", "--nofile=40:40", "--"});
  ASSERT_TRUE(eventually([&] { return spawn_failures(memvisor) > 0; }, 20s)) << memvisor.err();
  const auto failed = memvisor.events("spawn_failed");
  const std::string message = failed.front().value("message", "");
  EXPECT_NE(message.find("Too many open files"), std::string::npos) << message;
  EXPECT_NE(message.find("RLIMIT_NOFILE"), std::string::npos) << message;
  EXPECT_FALSE(memvisor.events("backoff").empty()) << "a failed start is retried with backoff";

  const size_t before = spawn_failures(memvisor);
  std::this_thread::sleep_for(3s);
  const size_t in_window = spawn_failures(memvisor) - before;
  EXPECT_LE(in_window, 12u * 15u) << "spawn retries are not backed off";
  EXPECT_TRUE(process_alive(memvisor.pid())) << memvisor.err();

  // Descriptors back: every instance comes up. Raising the hard limit needs CAP_SYS_RESOURCE;
  // without it (a container, this machine) fewer instances need fewer: a reload to 3.
  int wanted = 12;
  if (std::system(
          ("prlimit --pid " + std::to_string(memvisor.pid()) + " --nofile=4096:4096 2>/dev/null")
              .c_str()) != 0) {
    dir.write("n.toml",
              "[service.many]\ncommand = [\"sleep\", \"600\"]\ninstances = 3\n" + kQuickRetries);
    const auto reload = run_memvisor({"reload", "--state-dir", memvisor.state_dir()});
    ASSERT_EQ(reload.exit_code, 0) << reload.out << reload.err;
    wanted = 3;
  }
  ASSERT_TRUE(eventually([&] { return running_instances(memvisor) == wanted; }, 60s))
      << memvisor.status().dump() << memvisor.err();
}

// A pids cgroup (v1, /sys/fs/cgroup/pids) of its own for the test, removed at the end.
class PidsCgroup {
 public:
  PidsCgroup() {
    const std::string root = "/sys/fs/cgroup/pids";
    if (!fs::exists(root + "/cgroup.procs")) {
      why_ = "no pids cgroup v1 hierarchy at " + root;
      return;
    }
    path_ = root + "/memvisor-faults-test-" + std::to_string(::getpid());
    std::error_code error;
    if (!fs::create_directory(path_, error)) {
      why_ = "cannot create " + path_ + ": " + error.message();
      path_.clear();
    }
  }
  ~PidsCgroup() {
    if (path_.empty()) return;
    for (int i = 0; i < 100 && ::rmdir(path_.c_str()) != 0; ++i) {
      std::this_thread::sleep_for(50ms);  // its last processes are being reaped
    }
  }
  bool ok() const { return !path_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& path() const { return path_; }
  bool set_max(const std::string& value) const {
    std::ofstream out(path_ + "/pids.max");
    out << value;
    out.close();
    return static_cast<bool>(out);
  }

 private:
  std::string path_;
  std::string why_;
};

TEST(Faults, PidLimitFailsStartsWithBackoffAndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a pids cgroup";
  PidsCgroup cgroup;
  if (!cgroup.ok()) GTEST_SKIP() << cgroup.why();
  // memvisor, its supervisor and 3 workers fit; of 8 instances the rest fail at fork (EAGAIN).
  ASSERT_TRUE(cgroup.set_max("5"));
  TempDir dir;
  const std::string config = dir.write("p.toml",
                                       "[service.many]\ncommand = [\"sleep\", \"600\"]\n"
                                       "instances = 8\n" +
                                           kQuickRetries);
  Memvisor memvisor(
      dir, {config},
      {"sh", "-c", "echo $$ > " + cgroup.path() + "/cgroup.procs && exec \"$@\"", "sh"});
  ASSERT_TRUE(eventually([&] { return spawn_failures(memvisor) > 0; }, 20s)) << memvisor.err();
  const std::string message = memvisor.events("spawn_failed").front().value("message", "");
  EXPECT_NE(message.find("Resource temporarily unavailable"), std::string::npos) << message;
  EXPECT_NE(message.find("pids.max"), std::string::npos) << message;

  const size_t before = spawn_failures(memvisor);
  std::this_thread::sleep_for(3s);
  EXPECT_LE(spawn_failures(memvisor) - before, 8u * 15u) << "spawn retries are not backed off";
  EXPECT_TRUE(process_alive(memvisor.pid())) << memvisor.err();

  ASSERT_TRUE(cgroup.set_max("max"));
  ASSERT_TRUE(eventually([&] { return running_instances(memvisor) == 8; }, 60s))
      << memvisor.status().dump() << memvisor.err();
}

}  // namespace
}  // namespace memvisor::testing::faults

// memvisor under resource faults, on the real binary: a state dir on a full disk (a 256 KiB
// tmpfs, filled up and freed again) or on a disk the kernel turns read-only (ext4's emergency
// remount, on a loop device), too few descriptors (RLIMIT_NOFILE) and too few processes
// (a pids cgroup's pids.max) when spawning. Each: one clear message, nothing half-written, the
// rules and the restart backoff go on, no crash, no busy loop, and recovery once the resource is
// back. The setups need root (mount, cgroupfs, prlimit on a running process); each skips, saying
// why, where the kernel refuses it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.h"
#include "small_disk.h"

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

// A config of two services writing to the state dir all the time: chat prints a numbered line
// every 20 ms into its log (output = "file"); hog grows 5 MiB per 100 ms, so its limit recycles
// it every few seconds (python3 -S: no site imports to wait for), and events keep coming.
std::string chatty_config(TempDir& dir, const std::string& more = "") {
  const std::string hog = dir.write("grow.py", kGrowingPython);
  return dir.write(
      "faults.toml",
      "[service.chat]\nshell = true\ncommand = \"i=0; while :; do printf 'chat %06d "
      "abcdefghijklmnopqrstuvwxyz\\n' $i; i=$((i+1)); sleep 0.02; done\"\noutput = \"file\"\n"
      "[service.hog]\ncommand = [\"python3\", \"-S\", \"" +
          hog + "\"]\ninterval = \"100ms\"\nlimit = \"40MiB\"\n" + more);
}

// Nothing half-written: every event line is whole JSON, every log line a whole chat line.
void expect_whole_lines(const std::string& state, const std::string& chat_log) {
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
}

// Whether memvisor's own log says `text` within 10 s.
bool says_within(const Memvisor& memvisor, const std::string& text) {
  return eventually([&] { return memvisor.err().find(text) != std::string::npos; }, 10s);
}

// Whether events.jsonl holds a recycle of hog.1 past `generation` (one written after it).
bool hog_recycled_past(const Memvisor& memvisor, int generation) {
  for (const auto& e : memvisor.events("recycled", "hog.1")) {
    if (e.value("generation", 0) > generation) return true;
  }
  return false;
}

TEST(Faults, FullDiskDropsWholeLinesSaysSoOnceAndResumes) {
  TempDir dir;
  SmallDisk disk(dir.file("state"), "256k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.why();

  // The rule must keep acting while nothing can be written.
  Memvisor memvisor(dir, {chatty_config(dir)});
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

  // Space returns: writing resumes, each file's outage summed up once ("1 line dropped …" when
  // the outage was that short).
  fs::remove(filler);
  const auto summed_up = [](const std::string& err, const std::string& file) {
    for (const auto& line : lines_of(err)) {
      if (line.starts_with("memvisor: " + file + ": ") &&
          line.find(" dropped while the disk was full") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(eventually(
      [&] {
        const std::string err = memvisor.err();
        return summed_up(err, "chat.1.log") && summed_up(err, "events.jsonl");
      },
      30s))
      << memvisor.err();
  const int after = generation_of(memvisor.status(), "hog", 1);
  ASSERT_TRUE(eventually([&] { return hog_recycled_past(memvisor, after); }, 30s))
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
  expect_whole_lines(state, chat_log);
  // And a dump works again.
  dump = run_memvisor({"dump", "chat.1", "--state-dir", state}, 60s);
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_TRUE(process_alive(memvisor.pid()));
}

// An ext4 image on a loop device mounted at `path` with errors=remount-ro: the kernel's own
// emergency read-only remount, what a failing disk does under open files, is triggered through
// ext4's sysfs `trigger_fs_error`. A tmpfs cannot do this: it refuses to go read-only while
// files are open for writing, and memvisor always has some.
class Ext4Disk {
 public:
  Ext4Disk(std::string image, std::string path) : image_(std::move(image)), path_(std::move(path)) {
    fs::create_directories(path_);
    if (!have_program("mkfs.ext4") || !have_program("e2fsck")) {
      why_ = "no mkfs.ext4 or e2fsck (e2fsprogs)";
      return;
    }
    if (std::system(
            ("truncate -s 32M " + image_ + " && mkfs.ext4 -q -F " + image_ + " >/dev/null 2>&1")
                .c_str()) != 0) {
      why_ = "mkfs.ext4 failed";
      return;
    }
    mounted_ = mount();
    if (!mounted_) why_ = "cannot mount an ext4 image on a loop device here";
  }
  ~Ext4Disk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

  // The kernel remounts it read-only at once; open files stay open and every write fails EROFS.
  bool fail() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return false;
    const std::string block =
        fs::read_symlink("/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                         std::to_string(minor(st.st_dev)))
            .filename();
    std::ofstream trigger("/sys/fs/ext4/" + block + "/trigger_fs_error");
    trigger << "memvisor test\n";
    trigger.flush();
    return trigger.good() && read_only();
  }
  // By what a write meets: newer kernels keep the mount "rw" and mark ext4 `emergency_ro`.
  bool read_only() const {
    const std::string probe = path_ + "/.probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
      ::unlink(probe.c_str());
      return false;
    }
    return errno == EROFS;
  }
  // What an operator does: unmount, repair, mount again (an aborted ext4 refuses a remount).
  // The old mount lives on, detached, while memvisor's open files keep it.
  // On a loop device of its own: `mount -o loop` would reuse the old one (the image is still
  // attached to it), and the kernel would hand back the same aborted file system.
  bool repair() {
    ::umount2(path_.c_str(), MNT_DETACH);
    mounted_ = false;
    if (std::system(("e2fsck -fy " + image_ + " >/dev/null 2>&1").c_str()) > 1 * 256) return false;
    std::FILE* attach = ::popen(("losetup -f --show " + image_).c_str(), "r");
    if (attach == nullptr) return false;
    char device[64] = {};
    const bool attached = std::fgets(device, sizeof device, attach) != nullptr;
    ::pclose(attach);
    std::string name = device;
    if (!attached || !name.starts_with("/dev/loop")) return false;
    name.erase(name.find_last_not_of('\n') + 1);
    mounted_ = std::system(("mount " + name + " " + path_ + " >/dev/null 2>&1").c_str()) == 0;
    // Detached now, freed by the kernel when the mount goes (autoclear).
    (void)std::system(("losetup -d " + name + " >/dev/null 2>&1").c_str());
    return mounted_;
  }

 private:
  bool mount() const {
    return std::system(
               ("mount -o loop,errors=remount-ro " + image_ + " " + path_ + " >/dev/null 2>&1")
                   .c_str()) == 0;
  }
  std::string image_;
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

// The state dir's file system goes read-only under memvisor (a failing disk): events.jsonl and
// a worker's log say so once each, the limit rule goes on recycling, nothing half-written is
// left, and once the disk is repaired and mounted again the writers follow their paths to it.
TEST(Faults, StateDirGoingReadOnlySaysSoOnceAndResumesOnTheRepairedDisk) {
  TempDir dir;
  Ext4Disk disk(dir.file("state.img"), dir.file("state"));
  if (!disk.mounted()) GTEST_SKIP() << disk.why();

  const std::string notifier =
      dir.write("notify.sh", "#!/bin/sh\nsystemd-notify --ready\nexec sleep 600\n", true);
  Memvisor memvisor(dir, {chatty_config(dir, "[service.api]\ncommand = [\"" + notifier +
                                                 "\"]\nready = \"notify\"\n")});
  const std::string state = memvisor.state_dir();
  const std::string chat_log = state + "/logs/chat.1.log";
  ASSERT_TRUE(eventually([&] { return lines_of(read_text(chat_log)).size() > 20; }, 30s))
      << memvisor.err();
  ASSERT_GE(memvisor.wait_events("recycled", 1, 30s, "hog.1").size(), 1u) << memvisor.err();

  ASSERT_TRUE(disk.fail()) << "the ext4 error trigger did not make the mount read-only";
  // Read-only: the hog is still recycled (the control socket was bound before and still answers).
  const int generation = generation_of(memvisor.status(), "hog", 1);
  ASSERT_GT(generation, 0);
  ASSERT_TRUE(
      eventually([&] { return generation_of(memvisor.status(), "hog", 1) >= generation + 2; }, 60s))
      << "the limit rule stopped acting on a read-only disk\n"
      << memvisor.err();
  // A worker that says READY=1 starts too: its notify socket cannot be a file in the state dir
  // now, so it is an abstract one, said once.
  ASSERT_EQ(run_memvisor({"restart", "api.1", "--state-dir", state}).exit_code, 0);
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = memvisor.status();
        for (const auto& record : status.value("instances", nlohmann::json::array())) {
          if (record.value("service", "") == "api" && record.value("generation", 0) == 2 &&
              record.value("state", "") == "running")
            return true;
        }
        return false;
      },
      20s))
      << "a notify worker did not get ready on a read-only state dir\n"
      << memvisor.err();
  std::string err = memvisor.err();
  EXPECT_EQ(count_of(err, "using abstract sockets"), 1u) << err;
  // One message per file and writer (events.jsonl has two, the controller and the supervisor).
  EXPECT_EQ(count_of(err, "chat.1.log: cannot write"), 1u) << err;
  EXPECT_GE(count_of(err, "events.jsonl: cannot write"), 1u) << err;
  EXPECT_LE(count_of(err, "events.jsonl: cannot write"), 2u) << err;
  EXPECT_NE(err.find("Read-only file system"), std::string::npos) << err;
  expect_whole_lines(state, chat_log);

  // Repaired and mounted again at the same path: events and log lines are written there.
  // (Asked before: the fresh mount hides the control socket, which lives on the failed one; and
  // the repaired events.jsonl may hold the events written before the failure.)
  const int after = generation_of(memvisor.status(), "hog", 1);
  ASSERT_GT(after, generation);
  ASSERT_TRUE(disk.repair()) << "e2fsck or the second mount failed";
  ASSERT_TRUE(eventually([&] { return hog_recycled_past(memvisor, after); }, 60s))
      << "no event written on the repaired disk\n"
      << memvisor.err();
  const size_t lines_then = lines_of(read_text(chat_log)).size();
  EXPECT_TRUE(
      eventually([&] { return lines_of(read_text(chat_log)).size() > lines_then + 10; }, 10s))
      << memvisor.err();
  EXPECT_TRUE(says_within(memvisor, "dropped while the file system was read-only; writing again"))
      << memvisor.err();
  EXPECT_TRUE(process_alive(memvisor.pid()));
}

// A read-only file system under the incidents: `critical` still stops the worker (and again at
// each crossing), its crash report and bundle fail with one message, nothing is left half-made,
// and once the mount is writable again the next report and a dump are written. (events.jsonl
// and the logs, open all the time, are the test above.)
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
  // hog.1 is stopped by `critical` over and over: a dump asked between two of its processes
  // finds none, so it is asked again until it reaches one.
  const auto dump_hog = [&] {
    CommandResult dump;
    eventually(
        [&] {
          dump = run_memvisor({"dump", "hog.1", "--state-dir", state}, 60s);
          return dump.err.find("no running process") == std::string::npos;
        },
        30s);
    return dump;
  };
  auto dump = dump_hog();
  EXPECT_NE(dump.exit_code, 0) << dump.out;
  EXPECT_NE(dump.err.find("Read-only file system"), std::string::npos) << dump.err;
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
  EXPECT_TRUE(says_within(memvisor, "dropped while the file system was read-only; writing again"))
      << memvisor.err();
  dump = dump_hog();
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
  // Written just after spawn_failed (the test may read between the two lines).
  EXPECT_TRUE(eventually([&] { return !memvisor.events("backoff").empty(); }, 10s))
      << "a failed start is retried with backoff\n"
      << memvisor.err();

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

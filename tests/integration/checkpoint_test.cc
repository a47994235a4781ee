// Supervisor faults seen from outside: a `kill -9` keeps the leak rule's history (the checkpoint
// in the state dir), a garbled checkpoint is ignored with one line, and a hung supervisor
// (SIGSTOP) is killed and restarted by the controller while a busy one is left alone.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

// A steady leak, about 1 MiB/s, every page touched.
const char* kDrip =
    "import time\nhog = []\nwhile True:\n    hog.append(bytearray(b'x' * (100 << 10)))\n"
    "    time.sleep(0.1)\n";

nlohmann::json web1(const nlohmann::json& status) {
  if (!status.is_object()) return nullptr;
  for (const auto& record : status["instances"]) {
    if (record.value("service", "") == "web" && record.value("instance", 0) == 1) return record;
  }
  return nullptr;
}

struct History {
  int pid = 0;
  int supervisor = 0;
  uint64_t samples = 0, verdicts = 0;
};

std::optional<History> history(const Memvisor& memvisor) {
  const nlohmann::json status = status_of(memvisor);
  const nlohmann::json record = web1(status);
  if (!record.is_object() || !record["memory"].is_object()) return std::nullopt;
  const auto& memory = record["memory"];
  return History{record.value("pid", 0), status.value("supervisor_pid", 0),
                 memory.value("samples", uint64_t{0}), memory.value("leak_verdicts", uint64_t{0})};
}

// Runs a leaking worker until its detector has given a verdict (30 s of its life), kills the
// supervisor, and returns the history before the kill and as the new supervisor reports it.
std::pair<History, History> kill_during_a_leak(const TempDir& dir, Memvisor& memvisor) {
  History before;
  EXPECT_TRUE(eventually(
      [&] {
        auto h = history(memvisor);
        if (h && h->verdicts >= 1) before = *h;
        return h && h->verdicts >= 1;
      },
      90s))
      << memvisor.err();
  // The checkpoint is written every second here (MEMVISOR_CHECKPOINT_PERIOD_MS): let one pass
  // after the reading, so what it saved is at least what was read.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(::kill(before.supervisor, SIGKILL), 0);
  History after;
  EXPECT_TRUE(eventually(
      [&] {
        auto h = history(memvisor);
        if (h && h->supervisor != before.supervisor) after = *h;
        return h && h->supervisor != before.supervisor;
      },
      30s))
      << memvisor.err();
  (void)dir;
  return {before, after};
}

std::vector<std::string> leak_args(const std::string& worker) {
  return {"--name",        "web", "--interval", "1s",      "--leak", "10MiB/h",
          "--leak-warmup", "1m",  "--",         "python3", worker};
}

TEST(Checkpoint, AKilledSupervisorGoesOnWithTheLeakHistory) {
  TempDir dir;
  const std::string worker = dir.write("drip.py", kDrip);
  Memvisor memvisor(dir, leak_args(worker), {}, {"MEMVISOR_CHECKPOINT_PERIOD_MS=1000"});
  const auto [before, after] = kill_during_a_leak(dir, memvisor);
  EXPECT_EQ(after.pid, before.pid);  // the same worker, not restarted
  // The new supervisor goes on from where the dead one was, not from zero.
  EXPECT_GE(after.verdicts, before.verdicts);
  EXPECT_GE(after.samples, before.samples);
  EXPECT_NE(memvisor.err().find("checkpoint: restored the rules' history of 1 process(es)"),
            std::string::npos)
      << memvisor.err();
  EXPECT_TRUE(memvisor.events("exited").empty());
}

TEST(Checkpoint, WithoutTheCheckpointTheHistoryStartsOver) {
  // The negative control: the same run with checkpoints off loses the history at the kill.
  TempDir dir;
  const std::string worker = dir.write("drip.py", kDrip);
  Memvisor memvisor(dir, leak_args(worker), {}, {"MEMVISOR_CHECKPOINT=off"});
  const auto [before, after] = kill_during_a_leak(dir, memvisor);
  EXPECT_EQ(after.pid, before.pid);
  EXPECT_EQ(after.verdicts, 0u);
  EXPECT_LT(after.samples, before.samples);
}

TEST(Checkpoint, AGarbledCheckpointIsIgnoredWithOneLine) {
  TempDir dir;
  const std::string state = dir.file("state");  // the harness gives memvisor this state dir
  std::filesystem::create_directories(state);
  std::ofstream(state + "/checkpoint.bin") << "MVCKPT\r\n" << std::string(5000, '\x7f');
  Memvisor memvisor(
      dir, {"--name", "web", "--interval", "100ms", "--leak", "10MiB/h", "--", "sleep", "60"});
  nlohmann::json status;
  ASSERT_TRUE(eventually([&] { return web1(status = status_of(memvisor)).is_object(); }, 20s))
      << memvisor.err();
  ASSERT_TRUE(eventually(
      [&] { return !read_text(state + "/checkpoint.bin").starts_with("MVCKPT\r\n\x7f"); },
      60s));  // replaced by a good one after the first sampling round
  const std::string err = memvisor.err();
  const auto first = err.find("ignoring the checkpoint");
  ASSERT_NE(first, std::string::npos) << err;
  EXPECT_EQ(err.find("ignoring the checkpoint", first + 1), std::string::npos) << err;
  EXPECT_TRUE(memvisor.events("supervisor_exited").empty());  // never a crash
}

TEST(Checkpoint, AHungSupervisorIsKilledAndRestarted) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "120"}, {},
                    {"MEMVISOR_SUPERVISOR_HANG_TIMEOUT_MS=3000"});
  std::optional<History> before;
  ASSERT_TRUE(eventually([&] { return (before = history(memvisor)).has_value(); }, 20s))
      << memvisor.err();
  ASSERT_EQ(::kill(before->supervisor, SIGSTOP), 0);
  const auto hung = memvisor.wait_events("supervisor_hung", 1, 30s);
  ASSERT_EQ(hung.size(), 1u) << memvisor.err();
  EXPECT_EQ(hung[0]["pid"], before->supervisor);
  EXPECT_GE(hung[0]["silent_ms"].get<int>(), 3000);
  std::optional<History> after;
  ASSERT_TRUE(eventually(
      [&] { return (after = history(memvisor)) && after->supervisor != before->supervisor; }, 20s))
      << memvisor.err();
  EXPECT_EQ(after->pid, before->pid);  // the worker is untouched
  EXPECT_FALSE(process_alive(before->supervisor));
  const auto exited = memvisor.events("supervisor_exited");
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0]["reason"], "hang");
  EXPECT_TRUE(memvisor.events("exited").empty());
}

// The whole tree frozen longer than the hang timeout (docker pause, a VM paused, a machine-wide
// stall), controller included: on waking, the supervisor's silence is the freeze's, not a hang,
// and it is not killed. (It was, the moment both woke up.)
TEST(Checkpoint, AFreezeOfTheWholeTreeIsNoHang) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "120"}, {},
                    {"MEMVISOR_SUPERVISOR_HANG_TIMEOUT_MS=2000"});
  std::optional<History> before;
  ASSERT_TRUE(eventually([&] { return (before = history(memvisor)).has_value(); }, 20s))
      << memvisor.err();
  ASSERT_EQ(::kill(memvisor.pid(), SIGSTOP), 0);
  ASSERT_EQ(::kill(before->supervisor, SIGSTOP), 0);
  std::this_thread::sleep_for(4s);
  ::kill(before->supervisor, SIGCONT);
  ::kill(memvisor.pid(), SIGCONT);
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(memvisor.events("supervisor_hung").empty()) << memvisor.err();
  const auto after = history(memvisor);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->supervisor, before->supervisor);
  // A supervisor that hangs alone is still killed.
  ASSERT_EQ(::kill(before->supervisor, SIGSTOP), 0);
  EXPECT_EQ(memvisor.wait_events("supervisor_hung", 1, 30s).size(), 1u) << memvisor.err();
}

TEST(Checkpoint, ABusyButAnsweringSupervisorIsNotKilled) {
  // The negative control: 20 instances sampled every 100 ms, status asked without pause by four
  // clients, and a 1.5 s pause, under a 5 s timeout (the hang test's is 3 s; an ASan build on a
  // loaded machine is slower): the supervisor is slow at times but answers.
  TempDir dir;
  Memvisor memvisor(
      dir, {"--name", "web", "--instances", "20", "--interval", "100ms", "--", "sleep", "120"}, {},
      {"MEMVISOR_SUPERVISOR_HANG_TIMEOUT_MS=5000"});
  std::optional<History> before;
  ASSERT_TRUE(eventually([&] { return (before = history(memvisor)).has_value(); }, 20s))
      << memvisor.err();
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (!stop) answered += status_of(memvisor).is_object() ? 1 : 0;
    });
  }
  std::this_thread::sleep_for(2s);
  ::kill(before->supervisor, SIGSTOP);
  std::this_thread::sleep_for(1500ms);
  ::kill(before->supervisor, SIGCONT);
  std::this_thread::sleep_for(6s);  // past the timeout counted from the pause
  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_GT(answered.load(), 10);
  EXPECT_TRUE(memvisor.events("supervisor_hung").empty()) << memvisor.err();
  EXPECT_TRUE(memvisor.events("supervisor_exited").empty());
  const auto after = history(memvisor);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->supervisor, before->supervisor);
}

}  // namespace
}  // namespace memvisor::testing

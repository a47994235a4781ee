// Garbage on the control socket while the memory rules work: random bytes, a huge line, half-open
// and idle connections, more connections than allowed. The supervisor answers what it can, never
// stops, and its rules keep recycling a growing worker meanwhile.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <random>

#include "harness.h"

namespace memvisor::testing {
namespace {

TEST(ControlGarbage, NeverStopsTheSupervisorOrTheRules) {
  TempDir dir;
  const std::string worker =
      dir.write("grow.py",
                "import time\nhog = []\nwhile True:\n    hog.append(bytearray(5 << 20))\n    "
                "time.sleep(0.1)\n");
  Memvisor memvisor(dir, {"--name", "grow", "--interval", "100ms", "--limit", "60MiB",
                          "--limit-for", "2", "--", "python3", worker});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s, "grow.1").size(), 1u) << memvisor.err();
  const std::string state = memvisor.state_dir();
  int probe = -1;
  ASSERT_TRUE(eventually([&] { return (probe = connect_control(state, 20s)) >= 0; }, 10s));
  ASSERT_TRUE(send_all(probe, "{\"id\":1,\"cmd\":\"status\"}\n"));
  const auto first = nlohmann::json::parse(read_line(probe));
  const int supervisor_pid = first["status"]["supervisor_pid"];

  // Idle and half-open connections held open all along.
  std::vector<int> held;
  for (int i = 0; i < 20; ++i) {
    const int fd = connect_control(state, 20s);
    ASSERT_GE(fd, 0);
    if (i % 2 == 0) {
      (void)send_all(fd, "{\"cmd\":\"sta");  // half a request, then nothing
      ::shutdown(fd, SHUT_WR);
    }
    held.push_back(fd);
  }

  // Random bytes on many connections, each then closed.
  std::mt19937 random(7);
  for (int round = 0; round < 50; ++round) {
    const int fd = connect_control(state, 20s);
    if (fd < 0) continue;  // momentarily at the client limit
    std::string noise(1 + random() % 4096, '\0');
    for (char& c : noise) c = static_cast<char>(random() % 256);
    (void)send_all(fd, noise);
    ::close(fd);
  }

  // A 5 MiB line is answered with an error, skipped, and the same connection goes on. (The
  // closed connections above may still count against the client limit for a moment: wait for a
  // connection that is served.)
  int fd = -1;
  ASSERT_TRUE(eventually(
      [&] {
        if (fd >= 0) ::close(fd);
        fd = connect_control(state, 20s);
        if (fd < 0 || !send_all(fd, "{\"cmd\":\"ping\"}\n")) return false;
        return read_line(fd).find("\"ok\":true") != std::string::npos;
      },
      20s));
  ASSERT_TRUE(send_all(fd, std::string(5 << 20, 'x') + "\n{\"id\":2,\"cmd\":\"ping\"}\n"));
  const auto too_long = nlohmann::json::parse(read_line(fd));
  EXPECT_EQ(too_long["code"], "too_long") << too_long.dump();
  const auto pong = nlohmann::json::parse(read_line(fd));
  EXPECT_EQ(pong["ok"], true) << pong.dump();
  EXPECT_EQ(pong["id"], 2);
  // Binary garbage inside a line, then a valid request.
  ASSERT_TRUE(
      send_all(fd, std::string("\x00\xff\xfe{\"cmd\":", 9) + "\n{\"id\":3,\"cmd\":\"nope\"}\n"));
  EXPECT_EQ(nlohmann::json::parse(read_line(fd))["code"], "malformed");
  const auto unknown = nlohmann::json::parse(read_line(fd));
  EXPECT_EQ(unknown["code"], "unknown_command");
  EXPECT_EQ(unknown["id"], 3);

  // More connections than the limit: the extra ones are told so; the rest work.
  std::vector<int> many;
  int refused = 0;
  for (int i = 0; i < 80; ++i) {
    const int c = connect_control(state, 20s);
    if (c < 0) continue;
    many.push_back(c);
  }
  for (int c : many) {
    timeval quick{0, 200000};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &quick, sizeof quick);
    if (read_line(c).find("too_many_clients") != std::string::npos) ++refused;
  }
  EXPECT_GT(refused, 0);
  for (int c : many) ::close(c);

  // Meanwhile the rules kept working: the worker is recycled by its limit, more than once.
  EXPECT_GE(memvisor.wait_events("recycled", 2, 60s, "grow.1").size(), 2u) << memvisor.err();
  ASSERT_TRUE(send_all(fd, "{\"id\":4,\"cmd\":\"status\"}\n"));
  const auto last = nlohmann::json::parse(read_line(fd));
  EXPECT_EQ(last["ok"], true);
  EXPECT_EQ(last["status"]["supervisor_pid"], supervisor_pid) << "the supervisor restarted";
  EXPECT_EQ(memvisor.events("supervisor_exited").size(), 0u);
  for (int h : held) ::close(h);
  ::close(fd);
  ::close(probe);
}

}  // namespace
}  // namespace memvisor::testing

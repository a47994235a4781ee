// memvisor as a container entrypoint (PID 1 of its own PID namespace) and under systemd
// (Type=notify): zombies adopted from anywhere are reaped, its own manager hears READY=1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fstream>
#include <thread>

#include "harness.h"
#include "os/proc.h"

namespace memvisor::testing {
namespace {

std::vector<pid_t> zombies_of(pid_t parent) {
  std::vector<pid_t> zombies;
  for (pid_t child : child_pids(parent)) {
    auto stat = read_proc_stat(child);
    if (stat && stat->state == 'Z') zombies.push_back(child);
  }
  return zombies;
}

TEST(Container, AsPid1ItReapsAdoptedOrphansAndStopsOnSigterm) {
  if (::geteuid() != 0 || !have_program("unshare")) GTEST_SKIP() << "needs root and unshare";
  TempDir dir;
  // Every 50 ms the worker leaves an orphan that exits at once: it is re-parented to PID 1.
  const std::string script =
      dir.write("orphans.sh", "#!/bin/sh\nwhile :; do (sleep 0.01 &); sleep 0.05; done\n", true);
  Memvisor wrapper(dir, {"--name", "orphans", "--", script},
                   {"unshare", "--pid", "--fork", "--mount-proc", "--kill-child"});
  ASSERT_EQ(wrapper.wait_events("started", 1, 10s).size(), 1u) << wrapper.err();
  // Inside the namespace memvisor is PID 1 (its lock file says so); outside, unshare's child.
  EXPECT_EQ(read_text(wrapper.state_dir() + "/memvisor.lock"), "1\n");
  const auto children = child_pids(wrapper.pid());
  ASSERT_EQ(children.size(), 1u);
  const pid_t memvisor = children[0];

  std::this_thread::sleep_for(1500ms);  // ~30 orphans have come and gone
  // A zombie may exist for an instant before its reaping; none may linger.
  EXPECT_TRUE(eventually([&] { return zombies_of(memvisor).empty(); }, 2s))
      << zombies_of(memvisor).size() << " zombies under PID 1";

  ::kill(memvisor, SIGTERM);  // as `docker stop` would
  EXPECT_EQ(wrapper.wait(10s), 0) << wrapper.err();
  EXPECT_FALSE(wrapper.events("memvisor_stopped").empty());
}

TEST(Container, TellsItsOwnServiceManagerWhenThePoolIsReady) {
  TempDir dir;
  // Stand in for systemd: a datagram socket named by NOTIFY_SOCKET.
  const std::string path = dir.file("systemd.sock");
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval timeout{5, 0};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  Memvisor memvisor(dir,
                    {"--name", "web", "--instances", "2", "--ready", "notify", "--", "sh", "-c",
                     "sleep 0.2; systemd-notify --ready; exec sleep 60"},
                    {}, {"NOTIFY_SOCKET=" + path});
  std::string messages;
  char buffer[1024];
  while (messages.find("READY=1") == std::string::npos) {
    const ssize_t n = ::recv(sock, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    messages.append(buffer, static_cast<size_t>(n)).push_back('|');
  }
  EXPECT_NE(messages.find("READY=1\nSTATUS=2/2 instances ready"), std::string::npos) << messages;
  EXPECT_EQ(memvisor.events("ready").size(), 2u);  // not before both instances were ready

  memvisor.signal(SIGTERM);
  bool stopping = false;
  while (!stopping) {
    const ssize_t n = ::recv(sock, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    stopping = std::string(buffer, static_cast<size_t>(n)).find("STOPPING=1") != std::string::npos;
  }
  EXPECT_TRUE(stopping);
  EXPECT_EQ(memvisor.wait(10s), 0);
  ::close(sock);
}

}  // namespace
}  // namespace memvisor::testing

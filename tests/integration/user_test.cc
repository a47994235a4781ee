// Services that run as another user (memvisor as root) and the control socket's defences.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

namespace memvisor::testing {
namespace {

TEST(User, WorkerRunsAsTheConfiguredUserAndCanStillNotify) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0711);  // the worker must reach its notify socket inside
  Memvisor memvisor(dir,
                    {"--name", "u", "--user", "nobody", "--ready", "notify", "--", "sh", "-c",
                     "echo \"uid=$(id -u) home=$HOME\"; systemd-notify --ready; exec sleep 60"});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s, "u.1").size(), 1u) << memvisor.err();
  EXPECT_TRUE(eventually(
      [&] { return memvisor.out().find("u.1 | uid=65534 home=/nonexistent") != std::string::npos; },
      5s))
      << memvisor.out();
}

TEST(ControlSocket, IsOwnerOnlyAndSurvivesGarbage) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s).size(), 1u);
  int fd = -1;
  ASSERT_TRUE(
      eventually([&] { return (fd = connect_control(memvisor.state_dir(), 5s)) >= 0; }, 5s));
  struct stat st {};
  ASSERT_EQ(::stat((memvisor.state_dir() + "/control.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Garbage gets an error and the connection stays usable.
  const std::string garbage = "\x01\x02 not json {{{\n";
  ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  EXPECT_NE(read_line(fd).find("malformed request"), std::string::npos);
  const std::string unknown = "{\"id\":7,\"cmd\":\"launch-missiles\"}\n";
  ASSERT_EQ(::write(fd, unknown.data(), unknown.size()), static_cast<ssize_t>(unknown.size()));
  const std::string reply = read_line(fd);
  EXPECT_NE(reply.find("unknown command"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"id\":7"), std::string::npos) << reply;
  const std::string status = "{\"id\":8,\"cmd\":\"status\"}\n";
  ASSERT_EQ(::write(fd, status.data(), status.size()), static_cast<ssize_t>(status.size()));
  EXPECT_NE(read_line(fd).find("\"ok\":true"), std::string::npos);

  // A line longer than the limit closes that connection only.
  const std::string huge(1 << 20, 'x');
  (void)::write(fd, huge.data(), huge.size());
  ::close(fd);
  EXPECT_FALSE(memvisor.status().is_null());
  EXPECT_EQ(memvisor.events("supervisor_exited").size(), 0u);
}

}  // namespace
}  // namespace memvisor::testing

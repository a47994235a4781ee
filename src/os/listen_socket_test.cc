// Listening sockets with the real kernel: TCP and unix binds, stale and busy unix paths, matching
// a passed socket by its address, sd_listen_fds parsing, and the hand-off at fd 3 by spawn.
#include "os/listen_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cstring>

#include "os/files.h"
#include "os/spawn.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

SocketAddress address(std::string_view text) {
  auto parsed = parse_socket_address(text);
  EXPECT_TRUE(parsed) << text;
  return parsed ? *parsed : SocketAddress{};
}

// A TCP port that is free now: bind port 0 and read what the kernel chose.
uint16_t free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof in), 0);
  socklen_t length = sizeof in;
  EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&in), &length), 0);
  return ntohs(in.sin_port);
}

ino_t inode_of(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

TEST(ListenSocket, BindsTcpAndMatchesItsOwnAddressOnly) {
  const std::string text = "127.0.0.1:" + std::to_string(free_port());
  auto fd = open_listen_socket(address(text), {});
  ASSERT_TRUE(fd) << fd.error().describe();
  EXPECT_TRUE(listen_socket_matches(fd->get(), address(text)));
  EXPECT_FALSE(listen_socket_matches(fd->get(), address("127.0.0.1:1")));
  EXPECT_FALSE(listen_socket_matches(fd->get(), address("[::1]:1")));
  EXPECT_NE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);

  auto again = open_listen_socket(address(text), {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().describe(), "listen on " + text + ": Address already in use");
}

TEST(ListenSocket, UnixPathGetsItsModeAndReplacesOnlyAStaleSocket) {
  TestTempDir dir;
  const std::string path = dir.path() + "/web.sock";
  const SocketAddress unix_address = address("unix:" + path);
  {
    ListenOptions options;
    options.backlog = 16;
    options.mode = 0600;
    auto fd = open_listen_socket(unix_address, options);
    ASSERT_TRUE(fd) << fd.error().describe();
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(listen_socket_matches(fd->get(), unix_address));
    // Somebody listens: not replaced.
    auto busy = open_listen_socket(unix_address, {});
    ASSERT_FALSE(busy);
    EXPECT_NE(busy.error().describe().find("another process listens there"), std::string::npos);
  }
  // The listener is gone, its file stays: stale, replaced.
  auto fd = open_listen_socket(unix_address, {});
  ASSERT_TRUE(fd) << fd.error().describe();

  const std::string plain = dir.path() + "/plain";
  ASSERT_TRUE(write_file_atomically(plain, "data", 0600));
  auto refused = open_listen_socket(address("unix:" + plain), {});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().describe().find("is not a socket (not replaced)"), std::string::npos);
}

TEST(ListenSocket, AbstractUnixSocketsHaveNoFile) {
  const SocketAddress abstract = address("unix:@memvisor-test-" + std::to_string(::getpid()));
  auto fd = open_listen_socket(abstract, {});
  ASSERT_TRUE(fd) << fd.error().describe();
  EXPECT_TRUE(listen_socket_matches(fd->get(), abstract));
  EXPECT_FALSE(listen_socket_matches(fd->get(), address("unix:@other")));
}

TEST(ListenSocket, PassedFdsAreTheOnesMeantForThisProcess) {
  auto fds = parse_passed_fds("42", "2", "web:admin", 42);
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_EQ(fds[0].fd, 3);
  EXPECT_EQ(fds[0].name, "web");
  EXPECT_EQ(fds[1].fd, 4);
  EXPECT_EQ(fds[1].name, "admin");
  EXPECT_TRUE(parse_passed_fds("41", "2", "web:admin", 42).empty());  // another process's
  EXPECT_TRUE(parse_passed_fds(nullptr, "2", nullptr, 42).empty());
  EXPECT_TRUE(parse_passed_fds("42", "x", nullptr, 42).empty());
  EXPECT_TRUE(parse_passed_fds("42", "0", nullptr, 42).empty());
  auto unnamed = parse_passed_fds("42", "1", nullptr, 42);
  ASSERT_EQ(unnamed.size(), 1u);
  EXPECT_EQ(unnamed[0].name, "unknown");
}

// The child sees the socket at fd 3 (the same one: same inode), LISTEN_FDS, LISTEN_FDNAMES and
// its own pid in LISTEN_PID, whatever LISTEN_* the environment had before.
TEST(ListenSocket, SpawnHandsTheSocketsOverAtFdThreeWithTheChildsOwnPid) {
  auto first = open_listen_socket(address("127.0.0.1:" + std::to_string(free_port())), {});
  auto second =
      open_listen_socket(address("unix:@memvisor-spawn-" + std::to_string(::getpid())), {});
  ASSERT_TRUE(first && second);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd out_read(fds[0]), out_write(fds[1]);
  SpawnSpec spec;
  spec.argv = {"sh", "-c",
               "echo $LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$; "
               "readlink /proc/$$/fd/3 /proc/$$/fd/4; test -e /proc/$$/fd/5 && echo leaked; true"};
  spec.env = {"PATH=/usr/bin:/bin", "LISTEN_PID=1", "LISTEN_FDS=9"};
  spec.stdout_fd = out_write.get();
  spec.listen_fds = {first->get(), second->get()};
  spec.listen_fd_names = {"web", "admin"};
  auto child = spawn_process(spec);
  ASSERT_TRUE(child) << child.error().describe();
  out_write.reset();
  std::string printed;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(out_read.get(), buffer, sizeof buffer)) > 0) {
    printed.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child->pid, &status, 0), child->pid);
  const std::string pid = std::to_string(child->pid);
  EXPECT_EQ(printed, "2 web:admin " + pid + " " + pid + "\nsocket:[" +
                         std::to_string(inode_of(first->get())) + "]\nsocket:[" +
                         std::to_string(inode_of(second->get())) + "]\n");
}

}  // namespace
}  // namespace memvisor

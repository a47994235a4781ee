// NotifySocket round trips with real senders: credentials, passed fds, limits, NOTIFY_SOCKET.
#include "os/notify_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// sendmsg of `text` to `path`, optionally passing `fd` along with it.
bool send_datagram(const std::string& path, const std::string& text, int fd = -1) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr = address_of(path);
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_name = &addr;
  msg.msg_namelen = sizeof addr;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  return ::sendmsg(sock.get(), &msg, 0) == static_cast<ssize_t>(text.size());
}

TEST(NotifySocket, ReceivesTheSendersKernelCredentials) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);  // so an unprivileged sender can reach it
  auto socket = NotifySocket::bind(dir / "notify.sock", 0666);
  ASSERT_TRUE(socket.ok()) << socket.error().describe();
  // As root the sender drops to another uid, so the uid shown is provably the sender's.
  const uid_t sender_uid = ::geteuid() == 0 ? 65534 : ::geteuid();

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(sender_uid) < 0 || ::setuid(sender_uid) < 0)) ::_exit(2);
    ::_exit(send_datagram(dir / "notify.sock", "READY=1\nSTATUS=up") ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(status, 0);

  std::optional<NotifyMessage> message = socket->receive();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->pid, child);
  EXPECT_EQ(message->uid, sender_uid);
  EXPECT_EQ(message->text, "READY=1\nSTATUS=up");
  EXPECT_FALSE(socket->receive().has_value());
}

TEST(NotifySocket, ClosesPassedFds) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  auto socket = NotifySocket::bind(dir / "notify.sock", 0600);
  ASSERT_TRUE(socket.ok());
  UniqueFd passed(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(send_datagram(dir / "notify.sock", "FDSTORE=1", passed.get()));
  // The next fd number the process hands out shows whether the received copy leaked.
  UniqueFd probe_before(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int next_fd = probe_before.get();
  probe_before.reset();
  auto message = socket->receive();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->text, "FDSTORE=1");
  UniqueFd probe_after(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(probe_after.get(), next_fd);
}

TEST(NotifySocket, BindsWithModeAndUnlinksOnDestruction) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "notify.sock";
  ASSERT_TRUE(NotifySocket::bind(path, 0600).ok());  // its temporary already unlinked the path
  auto first = NotifySocket::bind(path, 0600);
  ASSERT_TRUE(first.ok());
  auto replaced = NotifySocket::bind(path, 0620);  // an existing socket file is replaced
  ASSERT_TRUE(replaced.ok()) << replaced.error().describe();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0620u);
  EXPECT_TRUE(::fcntl(replaced->fd(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(replaced->fd(), F_GETFD) & FD_CLOEXEC);
  {
    NotifySocket moved = std::move(*replaced);
    EXPECT_TRUE(replaced->path().empty());
    EXPECT_EQ(moved.path(), path);
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST(NotifySocket, RefusesToReplaceARegularFile) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  UniqueFd file(::open((dir / "x").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  auto socket = NotifySocket::bind(dir / "x", 0600);
  ASSERT_FALSE(socket.ok());
  EXPECT_EQ(socket.error().message, "bind notify socket " + (dir / "x"));
  EXPECT_EQ(socket.error().errnum, EADDRINUSE);
}

TEST(NotifySocket, TooLongPathIsAClearError) {
  const std::string path = "/tmp/" + std::string(120, 'x');
  auto socket = NotifySocket::bind(path, 0600);
  ASSERT_FALSE(socket.ok());
  EXPECT_EQ(socket.error().message, "notify socket path too long (125 bytes, max 107): " + path);
  EXPECT_EQ(socket.error().errnum, ENAMETOOLONG);
}

// READY=1 sent by notify_service_manager to NOTIFY_SOCKET=`name` arrives on `socket`, from us.
void expect_ready_arrives(NotifySocket& socket, const std::string& name) {
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", name.c_str(), 1), 0);
  Status sent = notify_service_manager("READY=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(sent.ok()) << sent.error().describe();
  auto message = socket.receive();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->pid, ::getpid());
  EXPECT_EQ(message->text, "READY=1");
}

TEST(NotifySocket, BindsAnAbstractNameWithoutAFile) {
  const std::string name = "@memvisor-test-bind-" + std::to_string(::getpid());
  {
    auto socket = NotifySocket::bind(name, 0600);
    ASSERT_TRUE(socket.ok()) << socket.error().describe();
    EXPECT_EQ(socket->path(), name);
    expect_ready_arrives(*socket, name);
    // Taken while it is open; no file was made for it in the working directory.
    EXPECT_FALSE(NotifySocket::bind(name, 0600).ok());
    struct stat st {};
    EXPECT_NE(::lstat(name.c_str(), &st), 0);
  }
  // Free again once closed.
  EXPECT_TRUE(NotifySocket::bind(name, 0600).ok());
  EXPECT_FALSE(NotifySocket::bind("@", 0600).ok());
}

TEST(NotifyServiceManager, SendsToAPathSocket) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  auto socket = NotifySocket::bind(dir / "notify.sock", 0600);
  ASSERT_TRUE(socket.ok());
  expect_ready_arrives(*socket, dir / "notify.sock");
}

TEST(NotifyServiceManager, SendsToAnAbstractSocket) {
  const std::string name = "memvisor-test-" + std::to_string(::getpid());
  UniqueFd receiver(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(receiver.get(), reinterpret_cast<sockaddr*>(&addr), length), 0);

  ASSERT_EQ(::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1), 0);
  Status sent = notify_service_manager("STOPPING=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(sent.ok()) << sent.error().describe();
  char buf[64] = {};
  EXPECT_EQ(::recv(receiver.get(), buf, sizeof buf, MSG_DONTWAIT), 10);
  EXPECT_STREQ(buf, "STOPPING=1");
}

TEST(NotifyServiceManager, NoOpWhenUnsetAndErrorWhenNobodyListens) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(notify_service_manager("READY=1").ok());
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1), 0);
  Status sent = notify_service_manager("READY=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().describe(),
            "send to NOTIFY_SOCKET /nonexistent/notify.sock: No such file or directory");
}

}  // namespace
}  // namespace memvisor

// Unix stream sockets end to end: listen/connect/accept, peer credentials, full and failed writes.
#include "os/unix_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

TEST(UnixStream, ListenConnectAcceptWithPeerCredentials) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "control.sock";
  auto listener = listen_unix(path, 0600);
  ASSERT_TRUE(listener.ok()) << listener.error().describe();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(::fcntl(listener->get(), F_GETFL) & O_NONBLOCK);

  auto none = accept_unix(listener->get());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().errnum, EAGAIN);

  auto client = connect_unix(path);
  ASSERT_TRUE(client.ok()) << client.error().describe();
  EXPECT_FALSE(::fcntl(client->get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(client->get(), F_GETFD) & FD_CLOEXEC);
  auto server = accept_unix(listener->get());
  ASSERT_TRUE(server.ok()) << server.error().describe();
  EXPECT_TRUE(::fcntl(server->get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(server->get(), F_GETFD) & FD_CLOEXEC);

  auto creds = peer_credentials(server->get());
  ASSERT_TRUE(creds.ok()) << creds.error().describe();
  EXPECT_EQ(creds->pid, ::getpid());
  EXPECT_EQ(creds->uid, ::getuid());
  EXPECT_EQ(creds->gid, ::getgid());

  ASSERT_TRUE(write_all(client->get(), "ping").ok());
  char buf[8] = {};
  EXPECT_EQ(::read(server->get(), buf, sizeof buf), 4);
  EXPECT_STREQ(buf, "ping");
}

TEST(UnixStream, ListenReplacesAStaleSocket) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "control.sock";
  auto first = listen_unix(path, 0600);
  ASSERT_TRUE(first.ok());
  auto second = listen_unix(path, 0600);
  ASSERT_TRUE(second.ok()) << second.error().describe();
  ASSERT_TRUE(connect_unix(path).ok());
  EXPECT_TRUE(accept_unix(second->get()).ok());
}

TEST(UnixStream, ConnectToMissingSocketNamesThePath) {
  auto client = connect_unix("/nonexistent/control.sock");
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().describe(),
            "connect to unix socket /nonexistent/control.sock: No such file or directory");
}

TEST(UnixStream, TooLongPathIsAClearError) {
  const std::string path = "/tmp/" + std::string(103, 'x');
  auto listener = listen_unix(path, 0600);
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(listener.error().message, "unix socket path too long (108 bytes, max 107): " + path);
}

TEST(UnixStream, SocketPairCredentialsAreOurs) {
  auto pair = socket_pair();
  ASSERT_TRUE(pair.ok());
  EXPECT_TRUE(::fcntl(pair->first.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(pair->second.get(), F_GETFD) & FD_CLOEXEC);
  auto creds = peer_credentials(pair->first.get());
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->pid, ::getpid());
}

TEST(UnixStream, WriteAllWaitsOnANonBlockingSocket) {
  auto pair = socket_pair();
  ASSERT_TRUE(pair.ok());
  ASSERT_EQ(::fcntl(pair->first.get(), F_SETFL, O_NONBLOCK), 0);
  // Far more than the socket buffer holds, so write_all must hit EAGAIN and poll.
  const std::string data(4 << 20, 'z');
  size_t received = 0;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(pair->second.get(), buf, sizeof buf)) > 0)
      received += static_cast<size_t>(n);
  });
  Status written = write_all(pair->first.get(), data);
  ::shutdown(pair->first.get(), SHUT_WR);
  reader.join();
  ASSERT_TRUE(written.ok()) << written.error().describe();
  EXPECT_EQ(received, data.size());
}

TEST(UnixStream, WriteAllToAClosedPeerIsEpipeNotSigpipe) {
  auto pair = socket_pair();
  ASSERT_TRUE(pair.ok());
  pair->second.reset();
  Status written = write_all(pair->first.get(), "lost");
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().errnum, EPIPE);
  EXPECT_EQ(written.error().message, "write to fd " + std::to_string(pair->first.get()));
}

TEST(UnixStream, WriteAllFallsBackToWriteForPipes) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  ASSERT_TRUE(write_all(write_end.get(), "through a pipe").ok());
  char buf[32] = {};
  EXPECT_EQ(::read(read_end.get(), buf, sizeof buf), 14);
  EXPECT_STREQ(buf, "through a pipe");
}

}  // namespace
}  // namespace memvisor

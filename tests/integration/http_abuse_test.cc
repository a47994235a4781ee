// Clients that misbehave on purpose — random bytes, huge header lines, half-open requests,
// hundreds of idle connections, more connections than the endpoint accepts — and the proof that
// the supervisor keeps measuring, judging and answering all the while.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <csignal>
#include <iostream>
#include <random>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

// Sends what it can without blocking; the server may close first, which is fine.
void send_some(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

struct OpenSockets {
  std::vector<int> fds;
  ~OpenSockets() {
    for (int fd : fds) ::close(fd);
  }
};

void allow_many_descriptors() {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = std::min<rlim_t>(files.rlim_max, 8192);
  ::setrlimit(RLIMIT_NOFILE, &files);
}

TEST(HttpAbuse, GarbageAndFloodsDoNotStopTheRules) {
  allow_many_descriptors();
  TempDir dir;
  const int port = free_port();
  // Idle until GO exists, then 64 MiB of touched memory: the warn rule must see it while the
  // endpoint is under siege.
  const std::string go = dir.file("GO");
  const std::string worker = dir.write("worker.py",
                                       "import os, time\n"
                                       "while not os.path.exists('" +
                                           go +
                                           "'):\n"
                                           "    time.sleep(0.05)\n"
                                           "block = b'x' * (64 << 20)\n"
                                           "time.sleep(600)\n");
  Memvisor memvisor(dir, {"--http", "127.0.0.1:" + std::to_string(port), "--name", "web",
                          "--interval", "100ms", "--warn", "40MiB", "--", "python3", worker});
  std::optional<HttpReply> reply;
  ASSERT_TRUE(
      eventually([&] { return (reply = http_get(port, "/health")) && reply->status == 200; }, 20s))
      << memvisor.err();
  nlohmann::json status;
  ASSERT_TRUE(eventually([&] { return !(status = memvisor.status()).is_null(); }, 10s));
  const int supervisor = status["supervisor_pid"];

  OpenSockets held;
  std::mt19937 random(42);
  std::string noise(64 << 10, '\0');
  for (int i = 0; i < 20; ++i) {  // random bytes, then hang up
    for (char& c : noise) c = static_cast<char>(random());
    const int fd = connect_loopback(port);
    ASSERT_GE(fd, 0);
    send_some(fd, noise);
    ::close(fd);
  }
  const std::string huge_line = "GET /metrics HTTP/1.1\r\nX-Huge: " + std::string(1 << 20, 'a');
  for (int i = 0; i < 5; ++i) {  // a header line of 1 MiB, left open
    const int fd = connect_loopback(port);
    ASSERT_GE(fd, 0);
    send_some(fd, huge_line);
    held.fds.push_back(fd);
  }
  for (int i = 0; i < 50; ++i) {  // half a request, never finished
    const int fd = connect_loopback(port);
    ASSERT_GE(fd, 0);
    send_some(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
    held.fds.push_back(fd);
  }
  for (int i = 0; i < 300; ++i) {  // connected and silent
    const int fd = connect_loopback(port);
    ASSERT_GE(fd, 0);
    held.fds.push_back(fd);
  }

  // With all of that still open, the endpoint answers others at once…
  const auto asked = std::chrono::steady_clock::now();
  reply = http_get(port, "/metrics", 5s);
  std::cout << "/metrics under siege answered in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count()
            << " s\n";
  ASSERT_TRUE(reply.has_value()) << "no answer with 355 bad connections open";
  EXPECT_EQ(reply->status, 200);
  EXPECT_NE(reply->body.find("memvisor_instance_up{service=\"web\",instance=\"1\"} 1"),
            std::string::npos);
  // …the control socket answers, and a memory rule still fires.
  EXPECT_FALSE(memvisor.status().is_null());
  dir.write("GO", "");
  const auto go_at = std::chrono::steady_clock::now();
  EXPECT_EQ(memvisor.wait_events("rule", 1, 30s, "web.1").size(), 1u) << memvisor.err();
  EXPECT_EQ(memvisor.events("rule")[0]["rule"], "warn");
  std::cout << "warn rule fired "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - go_at).count()
            << " s after the worker was told to grow\n";

  // More connections than the endpoint takes: the surplus waits in the listen queue (connect()
  // itself may wait once that is full); the supervisor is untouched.
  const auto flood_at = std::chrono::steady_clock::now();
  for (int i = 0; i < 700; ++i) {
    const int fd = connect_loopback(port);
    if (fd >= 0) held.fds.push_back(fd);
  }
  std::cout << "700 more connections opened in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - flood_at).count()
            << " s\n";
  status = memvisor.status();
  ASSERT_FALSE(status.is_null()) << "the control socket stopped answering";
  EXPECT_EQ(status["supervisor_pid"], supervisor) << "the supervisor restarted";
  EXPECT_EQ(status["instances"][0]["state"], "running");

  // Once the clients go away, everything is served again.
  for (int fd : held.fds) ::close(fd);
  held.fds.clear();
  const auto released_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually(
      [&] { return (reply = http_get(port, "/health", 2s)) && reply->status == 200; }, 30s));
  std::cout << "/health answered "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - released_at).count()
            << " s after the flood's connections were closed\n";
  status = memvisor.status();
  ASSERT_FALSE(status.is_null());
  EXPECT_EQ(status["supervisor_pid"], supervisor);
  EXPECT_TRUE(memvisor.events("supervisor_exited").empty());
}

TEST(HttpAbuse, OversizedHeadersAndOtherMethodsGetAnErrorNotACrash) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(
      dir, {"--http", "127.0.0.1:" + std::to_string(port), "--name", "web", "--", "sleep", "120"});
  std::optional<HttpReply> reply;
  ASSERT_TRUE(eventually([&] { return (reply = http_get(port, "/health")).has_value(); }, 20s));

  const int fd = connect_loopback(port);
  ASSERT_GE(fd, 0);
  send_some(
      fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 << 10, 'b') + "\r\n\r\n");
  char buffer[256] = {};
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const ssize_t n = ::recv(fd, buffer, sizeof buffer - 1, 0);
  ::close(fd);
  // Either an error status or a closed connection; never a 200 for a request over the cap.
  if (n > 0) {
    EXPECT_EQ(std::string(buffer, 9), "HTTP/1.1 ") << buffer;
    EXPECT_NE(std::string(buffer, 12).substr(9), "200") << buffer;
  }

  std::signal(SIGPIPE, SIG_IGN);  // the server may close while the client still writes the body
  httplib::Client client("127.0.0.1", port);
  auto posted = client.Post("/metrics", std::string(1 << 20, 'p'), "text/plain");
  if (posted) {
    EXPECT_EQ(posted->status, 405);
  }
  EXPECT_TRUE(
      eventually([&] { return (reply = http_get(port, "/health")) && reply->status == 200; }, 10s));
  EXPECT_TRUE(memvisor.events("supervisor_exited").empty());
}

}  // namespace
}  // namespace memvisor::testing

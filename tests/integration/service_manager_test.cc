// memvisor as a systemd service seen from the service manager's side: a datagram socket bound as
// NOTIFY_SOCKET, as systemd binds it, receives READY=1 and, when WATCHDOG_USEC asks for it,
// WATCHDOG=1 again and again from the controller's loop.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"

namespace memvisor::testing {
namespace {

// The service manager's end: a bound SOCK_DGRAM socket, read with a timeout.
class ManagerSocket {
 public:
  explicit ManagerSocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    timeval timeout{0, 100 * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~ManagerSocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  // Every datagram that arrives within `window`, in order.
  std::vector<std::string> receive_for(std::chrono::milliseconds window) {
    std::vector<std::string> messages;
    const auto end = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < end) {
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) messages.emplace_back(buffer, static_cast<size_t>(n));
    }
    return messages;
  }
  // Datagrams until `done` holds for what arrived so far, or `timeout`.
  template <typename Done>
  std::vector<std::string> receive_until(Done done, std::chrono::milliseconds timeout) {
    std::vector<std::string> messages;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done(messages) && std::chrono::steady_clock::now() < end) {
      for (auto& m : receive_for(100ms)) messages.push_back(std::move(m));
    }
    return messages;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

bool has_line(const std::string& message, const std::string& line) {
  return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

// The WATCHDOG=1 datagrams that came after the first READY=1; -1 when READY=1 never came.
int pings_after_ready(const std::vector<std::string>& messages) {
  int pings = -1;
  for (const std::string& m : messages) {
    if (pings < 0 && has_line(m, "READY=1")) pings = 0;
    if (pings >= 0 && has_line(m, "WATCHDOG=1")) ++pings;
  }
  return pings;
}

int pings(const std::vector<std::string>& messages) {
  int count = 0;
  for (const std::string& m : messages) count += has_line(m, "WATCHDOG=1");
  return count;
}

TEST(ServiceManager, WatchdogUsecGetsReadyThenRepeatedWatchdogPings) {
  TempDir dir;
  ManagerSocket manager(dir.file("notify.sock"));
  ASSERT_TRUE(manager.bound());
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "60"}, {},
                    {"NOTIFY_SOCKET=" + dir.file("notify.sock"), "WATCHDOG_USEC=400000"});
  const auto messages = manager.receive_until(
      [](const std::vector<std::string>& m) { return pings_after_ready(m) >= 3; }, 15s);
  EXPECT_GE(pings_after_ready(messages), 3) << memvisor.err();
}

TEST(ServiceManager, NoWatchdogPingWithoutWatchdogUsecOrWhenItIsAnotherProcess) {
  TempDir dir;
  TempDir other_dir;
  ManagerSocket plain(dir.file("notify.sock"));
  ManagerSocket other(other_dir.file("notify.sock"));
  ASSERT_TRUE(plain.bound() && other.bound());
  Memvisor without(dir, {"--name", "web", "--", "sleep", "60"}, {},
                   {"NOTIFY_SOCKET=" + dir.file("notify.sock")});
  // WATCHDOG_PID names another process: the watchdog is that one's, as sd_watchdog_enabled says.
  Memvisor elsewhere(
      other_dir, {"--name", "web", "--", "sleep", "60"}, {},
      {"NOTIFY_SOCKET=" + other_dir.file("notify.sock"), "WATCHDOG_USEC=400000", "WATCHDOG_PID=1"});
  for (ManagerSocket* manager : {&plain, &other}) {
    auto messages = manager->receive_until(
        [](const std::vector<std::string>& m) { return pings_after_ready(m) >= 0; }, 15s);
    ASSERT_GE(pings_after_ready(messages), 0) << without.err() << elsewhere.err();
    // Several watchdog periods (200 ms each, had it been on) after READY=1.
    for (auto& m : manager->receive_for(1500ms)) messages.push_back(std::move(m));
    EXPECT_EQ(pings(messages), 0);
  }
}

}  // namespace
}  // namespace memvisor::testing

// The worker library against a scripted supervisor on a real Unix socket: registration, batched
// counts, reconnection with the running total, a forked child on its own connection, and the
// no-op without MEMVISOR_SOCKET.
#include "client/worker_link.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "memvisor/worker.h"

namespace memvisor::client {
namespace {

using namespace std::chrono_literals;

// The supervisor's side, one blocking step at a time, every wait bounded.
class ScriptedSupervisor {
 public:
  explicit ScriptedSupervisor(std::string path) : path_(std::move(path)) { listen(); }
  ~ScriptedSupervisor() {
    stop();
    for (int fd : connections_) ::close(fd);
  }
  void listen() {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ::unlink(path_.c_str());
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
  }
  void stop() {
    if (listener_ >= 0) ::close(listener_);
    listener_ = -1;
    ::unlink(path_.c_str());
  }
  // A new connection, or -1 after `timeout`.
  int accept(std::chrono::milliseconds timeout = 10s) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) connections_.push_back(fd);
    return fd;
  }
  // The next message on `fd`, or nullopt on EOF or after `timeout`.
  std::optional<nlohmann::json> read(int fd, std::chrono::milliseconds timeout = 10s) {
    for (;;) {
      if (size_t end = buffers_[fd].find('\n'); end != std::string::npos) {
        auto message = nlohmann::json::parse(buffers_[fd].substr(0, end));
        buffers_[fd].erase(0, end + 1);
        return message;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffers_[fd].append(chunk, static_cast<size_t>(n));
    }
  }
  // Messages until one of `type` (returned) or nothing more comes; others are counted.
  std::optional<nlohmann::json> read_until(int fd, const std::string& type,
                                           int* skipped = nullptr) {
    while (auto message = read(fd)) {
      if ((*message)["type"] == type) return message;
      if (skipped != nullptr) ++*skipped;
    }
    return std::nullopt;
  }
  void send(int fd, const nlohmann::json& message) {
    const std::string line = message.dump() + "\n";
    ASSERT_EQ(::send(fd, line.data(), line.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(line.size()));
  }

 private:
  std::string path_;
  int listener_ = -1;
  std::vector<int> connections_;
  std::map<int, std::string> buffers_;
};

std::string socket_path(const char* name) {
  return "/tmp/mv-client-test-" + std::to_string(::getpid()) + "-" + name + ".sock";
}

LinkOptions options_for(const std::string& path) {
  LinkOptions options;
  options.socket_path = path;
  return options;
}

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    ::usleep(10000);
  }
  return false;
}

TEST(WorkerLink, RegistersAndSendsCountsInBatches) {
  const std::string path = socket_path("batch");
  ScriptedSupervisor supervisor(path);
  auto* link = new WorkerLink(options_for(path));  // its thread outlives the test: never freed
  ASSERT_TRUE(link->start());
  const int fd = supervisor.accept();
  ASSERT_GE(fd, 0);
  auto hello = supervisor.read(fd);
  ASSERT_TRUE(hello);
  EXPECT_EQ((*hello)["type"], "hello");
  EXPECT_EQ((*hello)["pid"], ::getpid());
  EXPECT_FALSE(link->connected());
  supervisor.send(fd, {{"type", "welcome"}, {"service", "web"}, {"instance", 1}});
  EXPECT_TRUE(eventually([&] { return link->connected(); }));

  link->ready();
  link->status("warming up");
  EXPECT_TRUE(supervisor.read_until(fd, "ready"));
  auto status = supervisor.read_until(fd, "status");
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["text"], "warming up");

  constexpr uint64_t kRequests = 100000;
  for (uint64_t i = 0; i < kRequests; ++i) link->add_requests(1);
  int messages = 0;
  for (;;) {
    auto counts = supervisor.read_until(fd, "requests");
    ASSERT_TRUE(counts) << "the total never reached " << kRequests;
    ++messages;
    if ((*counts)["total"] == kRequests) break;
  }
  // Batched: a handful of running totals, not one message per request.
  EXPECT_LT(messages, 100);
  EXPECT_EQ(link->requests_total(), kRequests);
}

TEST(WorkerLink, AnswersMemoryInfo) {
  const std::string path = socket_path("info");
  ScriptedSupervisor supervisor(path);
  auto* link = new WorkerLink(options_for(path));
  ASSERT_TRUE(link->start());
  const int fd = supervisor.accept();
  ASSERT_GE(fd, 0);
  supervisor.send(fd, {{"type", "request"}, {"id", 3}, {"cmd", "memory_info"}});
  supervisor.send(fd, {{"type", "request"}, {"id", 4}, {"cmd", "launch_missiles"}});
  supervisor.send(fd, {{"type", "welcome"}});
  auto reply = supervisor.read_until(fd, "reply");
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["id"], 3);
  EXPECT_TRUE((*reply)["ok"]);
  EXPECT_NE((*reply)["memory_info"]["malloc_info"].get<std::string>().find("<malloc"),
            std::string::npos);
  auto refused = supervisor.read_until(fd, "reply");
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["id"], 4);
  EXPECT_FALSE((*refused)["ok"]);
}

TEST(WorkerLink, ReconnectsAndSendsTheRunningTotalAgain) {
  const std::string path = socket_path("reconnect");
  auto supervisor = std::make_unique<ScriptedSupervisor>(path);
  auto* link = new WorkerLink(options_for(path));
  ASSERT_TRUE(link->start());
  int fd = supervisor->accept();
  ASSERT_GE(fd, 0);
  link->ready();
  link->add_requests(7);
  auto counts = supervisor->read_until(fd, "requests");
  while (counts && (*counts)["total"] != 7) counts = supervisor->read_until(fd, "requests");
  ASSERT_TRUE(counts);

  supervisor.reset();  // the supervisor dies: its listener and connections are gone
  link->add_requests(1);
  supervisor = std::make_unique<ScriptedSupervisor>(path);
  fd = supervisor->accept();
  ASSERT_GE(fd, 0) << "the worker never reconnected";
  EXPECT_EQ((*supervisor->read(fd))["type"], "hello");
  supervisor->send(fd, {{"type", "welcome"}});
  EXPECT_TRUE(supervisor->read_until(fd, "ready"));  // said again to the new supervisor
  counts = supervisor->read_until(fd, "requests");
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)["total"], 8);
  EXPECT_TRUE(eventually([&] { return link->connected(); }));
}

TEST(WorkerLink, SendsTheLatestGaugeAndRefusesBadOnes) {
  const std::string path = socket_path("gauge");
  auto supervisor = std::make_unique<ScriptedSupervisor>(path);
  auto* link = new WorkerLink(options_for(path));
  ASSERT_TRUE(link->start());
  int fd = supervisor->accept();
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(link->gauge("9lives", 1));
  EXPECT_FALSE(link->gauge("has space", 1));
  EXPECT_FALSE(link->gauge("nan_value", std::nan("")));
  EXPECT_FALSE(link->gauge("inf_value", HUGE_VAL));
  for (int i = 0; i <= 1000; ++i) EXPECT_TRUE(link->gauge("queue_depth", i));
  // The latest value arrives; a burst is not one line per call.
  int lines = 0;
  std::optional<nlohmann::json> gauge;
  while ((gauge = supervisor->read_until(fd, "gauge")) && (*gauge)["value"] != 1000) ++lines;
  ASSERT_TRUE(gauge);
  EXPECT_EQ((*gauge)["name"], "queue_depth");
  EXPECT_LT(lines, 1000);
  for (size_t i = 1; i < WorkerLink::kMaxGauges; ++i) {
    EXPECT_TRUE(link->gauge("g" + std::to_string(i), 1));
  }
  EXPECT_FALSE(link->gauge("one_too_many", 1));
  EXPECT_TRUE(link->gauge("queue_depth", 5));  // a known name still updates

  supervisor.reset();  // a new supervisor hears every gauge again
  supervisor = std::make_unique<ScriptedSupervisor>(path);
  fd = supervisor->accept();
  ASSERT_GE(fd, 0) << "the worker never reconnected";
  std::map<std::string, double> heard;
  while (heard.size() < WorkerLink::kMaxGauges) {
    auto again = supervisor->read_until(fd, "gauge");
    ASSERT_TRUE(again) << heard.size() << " gauges said again";
    heard[(*again)["name"]] = (*again)["value"];
  }
  EXPECT_EQ(heard["queue_depth"], 5);
}

TEST(WorkerApi, IsANoOpWithoutTheSocket) {
  ::unsetenv("MEMVISOR_SOCKET");
  EXPECT_EQ(mv_init(), 0);
  mv_ready();
  mv_request_done();
  mv_requests_done(5);
  mv_status("idle");
  mv_status(nullptr);
  EXPECT_EQ(mv_gauge("queue_depth", 3), 0);  // a no-op, not an error
  EXPECT_EQ(mv_gauge(nullptr, 3), -1);
  EXPECT_EQ(mv_connected(), 0);
  EXPECT_EQ(mv_requests_total(), 0u);
}

TEST(WorkerApi, AForkedChildHasItsOwnConnectionAndCount) {
  const std::string path = socket_path("fork");
  ScriptedSupervisor supervisor(path);
  ::setenv("MEMVISOR_SOCKET", path.c_str(), 1);
  ASSERT_EQ(mv_init(), 1);
  const int parent_fd = supervisor.accept();
  ASSERT_GE(parent_fd, 0);
  EXPECT_EQ((*supervisor.read(parent_fd))["pid"], ::getpid());
  mv_requests_done(5);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    mv_request_done();
    mv_request_done();
    ::pause();  // until the test kills it
    ::_exit(0);
  }
  const int child_fd = supervisor.accept();
  ASSERT_GE(child_fd, 0) << "the child never connected on its own";
  auto hello = supervisor.read(child_fd);
  ASSERT_TRUE(hello);
  EXPECT_EQ((*hello)["pid"], child);
  auto counts = supervisor.read_until(child_fd, "requests");
  while (counts && (*counts)["total"] != 2) counts = supervisor.read_until(child_fd, "requests");
  EXPECT_TRUE(counts) << "the child's count is its own, from zero";
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  // The parent's connection is still its own and still counts.
  mv_request_done();
  counts = supervisor.read_until(parent_fd, "requests");
  while (counts && (*counts)["total"] != 6) counts = supervisor.read_until(parent_fd, "requests");
  EXPECT_TRUE(counts);
}

}  // namespace
}  // namespace memvisor::client

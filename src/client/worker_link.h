// The worker's side of the supervisor connection. One background thread owns the socket: it
// connects to MEMVISOR_SOCKET, registers, sends ready/status, gauges and the request count in
// batches,
// answers diagnostics requests, and reconnects with a jittered backoff. The worker's own threads
// only touch atomics and a short mutex-guarded state, never the socket, so nothing they call can
// block on the supervisor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

namespace memvisor::client {

struct LinkOptions {
  std::string socket_path;  // MEMVISOR_SOCKET
  // The request count is sent at most this often; a count that stops changing is sent at once.
  std::chrono::milliseconds flush_interval{100};
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{1000};
  size_t max_line = 1 << 20;    // a longer line from the supervisor drops the connection
  size_t max_queued = 8 << 20;  // more unsent output than this drops the connection
};

class WorkerLink {
 public:
  explicit WorkerLink(LinkOptions options);
  WorkerLink(const WorkerLink&) = delete;
  WorkerLink& operator=(const WorkerLink&) = delete;

  // Starts the background thread (all signals blocked in it). False when it cannot be started:
  // the link then only counts.
  bool start();

  void ready();
  void add_requests(uint64_t count) {
    requests_.fetch_add(count);
    // Wake the thread only when it sleeps without a deadline: one syscall per idle period.
    if (sleeping_.load() && sleeping_.exchange(false)) wake();
  }
  void status(std::string_view text);
  // A gauge's latest value, sent by the background thread (a value set twice before it runs is
  // sent once, the latest). False for a name that breaks Prometheus' rule
  // ([a-zA-Z_:][a-zA-Z0-9_:]*, at most 128 characters), a value that is not finite, or a new name
  // past kMaxGauges: the supervisor would refuse them too.
  bool gauge(std::string_view name, double value);
  static constexpr size_t kMaxGauges = 32;
  bool connected() const { return registered_.load(std::memory_order_relaxed); }
  uint64_t requests_total() const { return requests_.load(std::memory_order_relaxed); }

  // In a child after fork: closes the parent's descriptors so the child never speaks on (or
  // keeps open) the parent's connection. Async-signal-safe; the object is abandoned after.
  void close_after_fork() noexcept;

 private:
  using Clock = std::chrono::steady_clock;

  void run();
  bool connect_once();
  void disconnect();
  void queue_updates(Clock::time_point now);
  bool flush_output();
  bool read_input();
  void handle_line(std::string_view line);
  void wake() noexcept;
  void drain_wake() noexcept;
  std::chrono::milliseconds next_backoff();

  const LinkOptions options_;

  // Shared with the worker's threads.
  std::atomic<uint64_t> requests_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> registered_{false};
  std::atomic<int> socket_fd_{-1};
  std::atomic<int> wake_fd_{-1};
  std::mutex mutex_;  // guards the five below
  bool ready_ = false;
  std::string status_;
  uint64_t status_generation_ = 0;
  struct Gauge {
    double value = 0;
    bool unsent = true;
  };
  std::map<std::string, Gauge, std::less<>> gauges_;
  bool gauges_unsent_ = false;

  // The thread's own.
  std::string in_;
  std::string out_;
  bool sent_ready_ = false;
  uint64_t sent_status_generation_ = 0;
  uint64_t sent_requests_ = 0;
  bool requests_unsent_ = true;
  Clock::time_point last_requests_at_{};
  int failures_ = 0;
  std::minstd_rand random_;
};

}  // namespace memvisor::client

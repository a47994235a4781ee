// The exported C ABI: one process-wide WorkerLink created on first use, forgotten in a child after
// fork (the child creates its own on its next call). No exception leaves these functions.
#include <pthread.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "client/notify_datagram.h"
#include "client/worker_link.h"
#include "memvisor/worker.h"

#define MV_EXPORT extern "C" __attribute__((visibility("default")))

namespace memvisor::client {
namespace {

std::atomic<WorkerLink*> g_link{nullptr};
std::atomic<bool> g_disabled{false};  // MEMVISOR_SOCKET unset: every call is a no-op
std::mutex g_create;

void before_fork() {
  g_create.lock();
}
void after_fork_in_parent() {
  g_create.unlock();
}
void after_fork_in_child() {
  // The parent's link, its thread (absent here) and its connection stay the parent's. The object
  // is leaked on purpose: its mutex may be held by a thread that does not exist in the child.
  if (WorkerLink* link = g_link.exchange(nullptr)) link->close_after_fork();
  g_create.unlock();
}

WorkerLink* create_link() {
  std::lock_guard lock(g_create);
  if (WorkerLink* link = g_link.load()) return link;
  static bool atfork_registered = false;
  if (!atfork_registered) {
    atfork_registered = pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) == 0;
  }
  const char* path = std::getenv("MEMVISOR_SOCKET");
  if (path == nullptr || path[0] == '\0') {
    g_disabled.store(true);
    return nullptr;
  }
  LinkOptions options;
  options.socket_path = path;
  // Never freed: the detached thread uses it until the process ends, and static destructors at
  // exit must not pull it away from under that thread.
  auto* link = new WorkerLink(std::move(options));
  (void)link->start();
  g_link.store(link);
  return link;
}

WorkerLink* the_link() noexcept {
  if (WorkerLink* existing = g_link.load(std::memory_order_acquire)) return existing;
  if (g_disabled.load(std::memory_order_relaxed)) return nullptr;
  try {
    return create_link();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace
}  // namespace memvisor::client

using memvisor::client::the_link;

MV_EXPORT int mv_init(void) {
  return the_link() != nullptr ? 1 : 0;
}

MV_EXPORT void mv_ready(void) {
  memvisor::client::notify_datagram("READY=1");
  try {
    if (auto* l = the_link()) l->ready();
  } catch (...) {
  }
}

MV_EXPORT void mv_request_done(void) {
  if (auto* l = the_link()) l->add_requests(1);
}

MV_EXPORT void mv_requests_done(uint64_t count) {
  if (auto* l = the_link()) l->add_requests(count);
}

MV_EXPORT void mv_status(const char* text) {
  if (text == nullptr) return;
  try {
    std::string truncated(text, ::strnlen(text, 1024));
    // One line: a newline would start another field of the notify message.
    for (char& c : truncated) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    memvisor::client::notify_datagram("STATUS=" + truncated);
    if (auto* l = the_link()) l->status(truncated);
  } catch (...) {
  }
}

MV_EXPORT int mv_gauge(const char* name, double value) {
  if (name == nullptr) return -1;
  try {
    auto* l = the_link();
    if (l == nullptr) return 0;
    return l->gauge(name, value) ? 0 : -1;
  } catch (...) {
    return -1;
  }
}

MV_EXPORT int mv_connected(void) {
  const auto* l = the_link();
  return l != nullptr && l->connected() ? 1 : 0;
}

MV_EXPORT uint64_t mv_requests_total(void) {
  const auto* l = the_link();
  return l != nullptr ? l->requests_total() : 0;
}

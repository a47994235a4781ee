// The worker library end to end: the C++ and Python example workers serve real HTTP requests,
// count them over MEMVISOR_SOCKET, and are recycled by the `requests` rule; they reconnect when
// the supervisor is killed; `memory_info` reaches glibc's malloc_info in a worker.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <filesystem>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <set>

#include "cli/control_client.h"
#include "harness.h"

namespace memvisor::testing {
namespace {

// One GET over a fresh connection; the body, or "" when it failed.
std::string http_get(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  return response.compare(0, 12, "HTTP/1.0 200") == 0 ||
                 response.compare(0, 12, "HTTP/1.1 200") == 0
             ? response.substr(body + 4)
             : "";
}

bool port_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// A PORT_BASE whose next `count` ports are free now (instance N listens on base + N).
int free_port_base(int count) {
  std::mt19937 random(std::random_device{}());
  for (;;) {
    const int base = std::uniform_int_distribution<int>(20000, 60000)(random);
    bool all = true;
    for (int i = 1; i <= count && all; ++i) all = port_free(base + i);
    if (all) return base;
  }
}

// The record of instance `number`, generation `generation` (an empty object when absent).
nlohmann::json process_record(const nlohmann::json& status, int number, int generation) {
  if (status.is_object()) {
    for (const auto& record : status["instances"]) {
      if (record["instance"] == number && record["generation"] == generation) return record;
    }
  }
  return nlohmann::json::object();
}

// The status once web.1's first process has reported `count` requests; null if not within 30 s.
nlohmann::json status_when_requests(const Memvisor& memvisor, int count) {
  nlohmann::json status;
  const bool reached = eventually(
      [&] {
        status = status_of(memvisor);
        return process_record(status, 1, 1).value("requests", 0) == count;
      },
      30s);
  return reached ? status : nlohmann::json();
}

bool connected(const nlohmann::json& record) {
  return record.contains("worker") && record["worker"].is_object() &&
         record["worker"].value("connections", 0) >= 1;
}

std::vector<std::string> cpp_worker_command() {
  return {MEMVISOR_CPP_WORKER};
}
std::vector<std::string> python_worker_command() {
  return {"python3", source_path("examples/workers/http_worker.py")};
}

std::vector<std::string> run_args(int instances, int port_base, const std::string& max,
                                  const std::string& jitter, std::vector<std::string> command) {
  std::vector<std::string> args = {"--name",
                                   "web",
                                   "--instances",
                                   std::to_string(instances),
                                   "--ready",
                                   "notify",
                                   "--interval",
                                   "100ms",
                                   "--max-requests",
                                   max,
                                   "--requests-jitter",
                                   jitter,
                                   "--env",
                                   "PORT_BASE=" + std::to_string(port_base),
                                   "--"};
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

// Sends requests to instance `number` one at a time, each counted (status shows it) before the
// next, until the requests rule fires. Returns that rule event (null if it never fired).
nlohmann::json drive_until_recycled(const Memvisor& memvisor, int number, int port) {
  const std::string label = "web." + std::to_string(number);
  for (int sent = 1; sent <= 40; ++sent) {
    EXPECT_NE(http_get(port), "") << "request " << sent << " to " << label;
    bool counted = eventually(
        [&] {
          if (!memvisor.events("rule", label).empty()) return true;
          return process_record(status_of(memvisor), number, 1).value("requests", -1) == sent;
        },
        20s);
    EXPECT_TRUE(counted) << label << " request " << sent << " never counted\n" << memvisor.err();
    const auto rules = memvisor.events("rule", label);
    if (!rules.empty()) return rules.front();
    if (!counted) return nullptr;
  }
  return nullptr;
}

void expect_recycled_by_requests(std::vector<std::string> command) {
  TempDir dir;
  const int base = free_port_base(2);
  Memvisor memvisor(dir, run_args(2, base, "20", "5", std::move(command)));
  ASSERT_EQ(memvisor.wait_events("ready", 2, 30s).size(), 2u) << memvisor.err();
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = status_of(memvisor);
        return connected(process_record(status, 1, 1)) && connected(process_record(status, 2, 1));
      },
      20s))
      << memvisor.err();

  std::vector<double> thresholds;
  for (int number : {1, 2}) {
    const nlohmann::json rule = drive_until_recycled(memvisor, number, base + number);
    ASSERT_FALSE(rule.is_null()) << memvisor.err();
    EXPECT_EQ(rule["rule"], "requests");
    EXPECT_EQ(rule["action"], "recycle");
    EXPECT_EQ(rule["generation"], 1);
    // max 20, jitter 5: the threshold is 20 plus this process's share of the jitter, and the
    // rule fired on exactly the request that reached it (each was counted before the next).
    const double threshold = rule["threshold"].get<double>();
    EXPECT_GE(threshold, 15);
    EXPECT_LE(threshold, 25);
    EXPECT_EQ(rule["value"].get<double>(), threshold);
    thresholds.push_back(threshold);

    const std::string label = "web." + std::to_string(number);
    const auto recycled = memvisor.wait_events("recycled", 1, 30s, label);
    ASSERT_EQ(recycled.size(), 1u) << memvisor.err();
    // Both listen on the port during the surge (SO_REUSEPORT): ask the replacement alone.
    const int old_pid = recycled[0]["old_pid"];
    ASSERT_TRUE(eventually([&] { return !process_alive(old_pid); }, 30s));
    const auto recycle = memvisor.events("recycle", label);
    ASSERT_GE(recycle.size(), 1u);
    EXPECT_EQ(recycle[0]["reason"], "requests");
    EXPECT_TRUE(recycle[0]["surge"]);
    // The replacement counts from zero, and counting works for it too.
    ASSERT_TRUE(
        eventually([&] { return connected(process_record(status_of(memvisor), number, 2)); }, 20s))
        << memvisor.err();
    EXPECT_NE(http_get(base + number), "");
    EXPECT_TRUE(eventually(
        [&] { return process_record(status_of(memvisor), number, 2).value("requests", -1) == 1; },
        20s));
  }
  std::cout << "requests thresholds: web.1 " << thresholds[0] << ", web.2 " << thresholds[1]
            << "\n";
}

TEST(WorkerLibrary, CppWorkerIsRecycledByRequests) {
  expect_recycled_by_requests(cpp_worker_command());
}

TEST(WorkerLibrary, PythonWorkerIsRecycledByRequests) {
  expect_recycled_by_requests(python_worker_command());
}

TEST(WorkerLibrary, RequestLimitsAreJitteredPerProcess) {
  // Ten instances draw their own share of the jitter: all in [max, max + jitter], not all equal
  // (the chance that ten draws of six values agree is 6 / 6^10, about 1.7e-8).
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--instances", "10", "--interval", "100ms",
                          "--max-requests", "20", "--requests-jitter", "5", "--", "sleep", "60"});
  std::set<int64_t> limits;
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = status_of(memvisor);
        if (status.is_null()) return false;
        limits.clear();
        int seen = 0;
        for (const auto& record : status["instances"]) {
          if (!record.contains("requests_limit")) return false;
          limits.insert(record["requests_limit"].get<int64_t>());
          ++seen;
        }
        return seen == 10;
      },
      20s))
      << memvisor.err();
  for (int64_t limit : limits) {
    EXPECT_GE(limit, 20);
    EXPECT_LE(limit, 25);
  }
  EXPECT_GE(limits.size(), 2u);
}

TEST(WorkerLibrary, WorkersReconnectAfterTheSupervisorIsKilled) {
  TempDir dir;
  const int base = free_port_base(2);
  Memvisor memvisor(dir, run_args(2, base, "1000", "0", cpp_worker_command()));
  ASSERT_EQ(memvisor.wait_events("ready", 2, 30s).size(), 2u) << memvisor.err();
  for (int i = 0; i < 3; ++i) ASSERT_NE(http_get(base + 1), "");
  nlohmann::json before;
  ASSERT_TRUE(eventually(
      [&] {
        before = status_of(memvisor);
        return process_record(before, 1, 1).value("requests", 0) == 3 &&
               connected(process_record(before, 2, 1));
      },
      20s))
      << memvisor.err();
  const int supervisor = before["supervisor_pid"];
  const int pid1 = process_record(before, 1, 1)["pid"];
  const int pid2 = process_record(before, 2, 1)["pid"];

  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  // Back when a new supervisor answers and both workers are registered with it again; web.1's
  // total comes back with it (the library sends running totals, not increments).
  nlohmann::json after;
  ASSERT_TRUE(eventually(
      [&] {
        after = status_of(memvisor);
        return !after.is_null() && after["supervisor_pid"] != supervisor &&
               connected(process_record(after, 1, 1)) && connected(process_record(after, 2, 1)) &&
               process_record(after, 1, 1).value("requests", 0) == 3;
      },
      30s))
      << memvisor.err();
  const auto reconnect_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - killed_at)
                                .count();
  std::cout << "workers reconnected " << reconnect_ms << " ms after kill -9 of the supervisor\n";
  RecordProperty("reconnect_ms", std::to_string(reconnect_ms));

  EXPECT_EQ(process_record(after, 1, 1)["pid"], pid1);
  EXPECT_EQ(process_record(after, 2, 1)["pid"], pid2);
  EXPECT_TRUE(process_alive(pid1));
  EXPECT_TRUE(process_alive(pid2));
  EXPECT_TRUE(memvisor.events("exited").empty());
  // Counting goes on with the new supervisor.
  ASSERT_NE(http_get(base + 1), "");
  EXPECT_TRUE(eventually(
      [&] { return process_record(status_of(memvisor), 1, 1).value("requests", 0) == 4; }, 20s));
}

TEST(WorkerLibrary, TheSocketAcceptsFromTheFirstInstructionAndWhileTheSupervisorIsDown) {
  // A worker that connects once, without retrying, as its first act; and once more while the
  // supervisor is dead. The controller holds the socket, so neither connect fails: the second
  // waits in the backlog until the next supervisor takes it.
  TempDir dir;
  const std::string go = dir.file("go");
  const std::string script = R"(
import os, socket, sys, time
def report(total):  # a running total, as the library sends it
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["MEMVISOR_SOCKET"])
    s.sendall(b'{"type":"requests","total":%d}\n' % total)
    return s
first = report(1)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.005)
second = report(2)
time.sleep(600)
)";
  const std::string worker = dir.write("once.py", script);
  Memvisor memvisor(dir, {"--name", "web", "--max-requests", "1000", "--", "python3", worker, go});
  const nlohmann::json before = status_when_requests(memvisor, 1);
  ASSERT_FALSE(before.is_null()) << memvisor.err();
  ASSERT_EQ(::kill(before["supervisor_pid"].get<int>(), SIGKILL), 0);
  dir.write("go", "");
  EXPECT_TRUE(eventually(
      [&] {
        const nlohmann::json after = status_of(memvisor);
        return !after.is_null() && after["supervisor_pid"] != before["supervisor_pid"] &&
               process_record(after, 1, 1).value("requests", 0) == 2;
      },
      30s))
      << memvisor.err();
  EXPECT_TRUE(memvisor.events("exited").empty()) << memvisor.err();
}

// Every instance on one listening socket is woken for each connection, and only one gets it. A
// loser blocked in accept() would hold its stop until the next connection came (memvisor's
// SIGTERM after stop_timeout, exit code 1): the example must stop at once, with code 0, however
// many connections the others took.
TEST(WorkerLibrary, PythonWorkersOnOneSocketStopAtOnceWhateverConnectionsTheOthersTook) {
  TempDir dir;
  const int port = free_port();
  std::vector<std::string> args = {
      "--name",  "web",    "--instances", "2",
      "--ready", "notify", "--listen",    "127.0.0.1:" + std::to_string(port),
      "--"};
  for (auto& word : python_worker_command()) args.push_back(word);
  Memvisor memvisor(dir, args);
  ASSERT_EQ(memvisor.wait_events("ready", 2, 30s).size(), 2u) << memvisor.err();
  for (int i = 0; i < 5; ++i) ASSERT_NE(http_get(port), "") << "request " << i;

  ASSERT_EQ(run_memvisor({"restart", "web", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 2, 40s).size(), 2u) << memvisor.err();
  EXPECT_TRUE(memvisor.events("stop_escalated").empty()) << memvisor.err();
  const auto exits = memvisor.events("exited");
  ASSERT_EQ(exits.size(), 2u) << memvisor.err();
  for (const auto& exit : exits) EXPECT_EQ(exit["code"], 0) << exit.dump();
  EXPECT_NE(http_get(port), "") << "the replacements serve";
}

// README: `listen = ["unix:/PATH"]` too, and the example serves every socket it is given. It
// reset every connection on a Unix socket (TCP_NODELAY, which only TCP takes).
TEST(WorkerLibrary, ThePythonExampleServesAUnixSocket) {
  TempDir dir;
  const std::string path = dir.file("web.sock");
  std::vector<std::string> args = {"--name",   "web",          "--ready", "notify",
                                   "--listen", "unix:" + path, "--"};
  for (auto& word : python_worker_command()) args.push_back(word);
  Memvisor memvisor(dir, args);
  ASSERT_EQ(memvisor.wait_events("ready", 1, 30s).size(), 1u) << memvisor.err();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const std::string request = "GET / HTTP/1.0\r\nHost: web\r\n\r\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string reply;
  char buffer[512];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    reply.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply << memvisor.err();
  EXPECT_NE(reply.find("hello from web.1"), std::string::npos) << reply;
}

TEST(WorkerLibrary, MemoryInfoComesFromGlibcInTheWorker) {
  TempDir dir;
  const int base = free_port_base(1);
  Memvisor memvisor(dir, run_args(1, base, "1000", "0", cpp_worker_command()));
  ASSERT_TRUE(eventually([&] { return connected(process_record(status_of(memvisor), 1, 1)); }, 30s))
      << memvisor.err();
  auto reply = control_request(memvisor.state_dir(),
                               {{"id", 7}, {"cmd", "memory_info"}, {"target", "web.1"}});
  ASSERT_TRUE(reply) << reply.error().describe();
  ASSERT_TRUE(reply->value("ok", false)) << reply->dump();
  EXPECT_EQ((*reply)["id"], 7);
  const auto& info = (*reply)["memory_info"];
  EXPECT_NE(info.value("malloc_info", "").find("<malloc version="), std::string::npos);
#ifndef MEMVISOR_SANITIZED
  // Under AddressSanitizer the worker allocates from ASan's allocator: glibc's arenas stay empty.
  EXPECT_GT(info["mallinfo2"].value("arena", uint64_t{0}), 0u);
#else
  EXPECT_TRUE(info["mallinfo2"].is_object()) << info.dump();
#endif

  auto missing =
      control_request(memvisor.state_dir(), {{"cmd", "memory_info"}, {"target", "web.9"}});
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->value("ok", true));
  auto malformed = control_request(memvisor.state_dir(), {{"cmd", "memory_info"}, {"target", 5}});
  ASSERT_TRUE(malformed);
  EXPECT_FALSE(malformed->value("ok", true));
}

TEST(WorkerLibrary, PythonWorkerAnswersMemoryInfoByHand) {
  TempDir dir;
  const int base = free_port_base(1);
  Memvisor memvisor(dir, run_args(1, base, "1000", "0", python_worker_command()));
  ASSERT_TRUE(eventually([&] { return connected(process_record(status_of(memvisor), 1, 1)); }, 30s))
      << memvisor.err();
  auto reply = control_request(memvisor.state_dir(), {{"cmd", "memory_info"}, {"target", "web.1"}});
  ASSERT_TRUE(reply) << reply.error().describe();
  ASSERT_TRUE(reply->value("ok", false)) << reply->dump();
  EXPECT_NE((*reply)["memory_info"].value("malloc_info", "").find("<malloc version="),
            std::string::npos);
}

TEST(WorkerLibrary, GarbageFromAWorkerNeverStopsTheSupervisor) {
  // A worker of the fleet that speaks nonsense: bad JSON, wrong types, out-of-range totals, a
  // status cut mid UTF-8 sequence, a line over the limit, a badly typed reply. The supervisor
  // refuses each, keeps running, and still counts what is valid.
  TempDir dir;
  const std::string script = R"(
import json, os, socket, time
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["MEMVISOR_SOCKET"])
    return s
s = connect()
for line in [b"\x00\xff garbage", b"[]", b'{"type":5}', b'{"type":"requests","total":-5}',
             b'{"type":"requests","total":"7"}', b'{"type":"requests","total":1e30}',
             b'{"type":"requests","total":18446744073709551615}', b'{"type":"reply","id":"x"}',
             b'{"type":"nope"}']:
    s.sendall(line + b"\n")
try:
    s.sendall(b"x" * (3 << 20))  # a line longer than allowed: the supervisor drops us
except OSError:
    pass
s = connect()
s.sendall(b'{"type":"status","text":' + json.dumps("\u20ac" * 500).encode() + b'}\n')
s.sendall(b'{"type":"requests","total":3}\n')
buffer = b""
while True:
    data = s.recv(4096)
    if not data:
        time.sleep(120)
    buffer += data
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        message = json.loads(line)
        if message.get("type") == "request":
            reply = {"type": "reply", "id": message["id"], "ok": "yes", "memory_info": [1, 2]}
            s.sendall(json.dumps(reply).encode() + b"\n")
)";
  const std::string worker = dir.write("babbler.py", script);
  Memvisor memvisor(dir, {"--name", "web", "--interval", "100ms", "--max-requests", "1000", "--",
                          "python3", worker});
  const nlohmann::json status = status_when_requests(memvisor, 3);
  ASSERT_FALSE(status.is_null()) << memvisor.err();
  const int supervisor = status["supervisor_pid"];
  const auto worker_fields = process_record(status, 1, 1)["worker"];
  EXPECT_EQ(worker_fields.value("connections", 0), 1);
  const std::string text = worker_fields.value("status", "");
  EXPECT_LE(text.size(), 1024u);
  EXPECT_GE(text.size(), 1020u);

  auto reply = control_request(memvisor.state_dir(), {{"cmd", "memory_info"}, {"target", "web.1"}});
  ASSERT_TRUE(reply) << reply.error().describe();
  EXPECT_FALSE(reply->value("ok", true));
  const auto after = status_of(memvisor);
  ASSERT_FALSE(after.is_null());
  EXPECT_EQ(after["supervisor_pid"], supervisor);
  EXPECT_TRUE(memvisor.events("supervisor_exited").empty()) << memvisor.err();
  const auto human = run_memvisor({"status", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("REQS"), std::string::npos);
}

TEST(WorkerLibrary, AStrangerCannotSpeakForAWorker) {
  // A process outside the fleet connects to the worker socket and reports requests: nothing is
  // counted, and it is told so.
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--max-requests", "5", "--", "sleep", "60"});
  ASSERT_TRUE(eventually([&] { return !status_of(memvisor).is_null(); }, 20s)) << memvisor.err();
  const std::string script =
      "import json, socket, sys\n"
      "s = socket.socket(socket.AF_UNIX)\n"
      "s.connect(sys.argv[1])\n"
      "s.sendall(b'garbage\\n' + json.dumps({'type': 'requests', 'total': 100}).encode() + "
      "b'\\n')\n"
      "s.settimeout(30)\n"
      "print(s.recv(4096).decode(), flush=True)\n";
  const std::string path = dir.write("stranger.py", script);
  const std::string out_path = dir.file("stranger.out");
  const std::string command =
      "python3 " + path + " " + memvisor.state_dir() + "/worker.sock > " + out_path;
  ASSERT_EQ(std::system(command.c_str()), 0);
  EXPECT_NE(read_text(out_path).find("\"type\":\"error\""), std::string::npos)
      << read_text(out_path);
  const auto status = status_of(memvisor);
  EXPECT_EQ(process_record(status, 1, 1).value("requests", -1), 0);
  EXPECT_TRUE(memvisor.events("rule").empty());
}

}  // namespace
}  // namespace memvisor::testing

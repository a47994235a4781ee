// Listening sockets memvisor owns (`listen`): bound once before any instance, the same socket in
// every instance, replacement and restart (same inode, LISTEN_PID the worker's own), held through
// a supervisor kill -9 and while no instance runs, taken over from a service manager, and bad
// input refused before anything starts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <sstream>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

// Connects to 127.0.0.1:port; -1 on failure.
int connect_tcp(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

std::string read_until_close(int fd) {
  std::string text;
  char buffer[256];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return text;
}

// A worker that serves the inherited socket at fd 3: each connection gets one line, "INSTANCE
// GENERATION PID LISTEN_PID LISTEN_FDS LISTEN_FDNAMES INODE-OF-FD-3", then is closed.
const char* kServer = R"(import os, socket, sys, time
listener = socket.socket(fileno=3)
inode = os.fstat(3).st_ino
env = os.environ
line = " ".join([env["MEMVISOR_INSTANCE"], env["MEMVISOR_GENERATION"], str(os.getpid()),
                 env.get("LISTEN_PID", "-"), env.get("LISTEN_FDS", "-"),
                 env.get("LISTEN_FDNAMES", "-"), str(inode)]) + "\n"
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", env["NOTIFY_SOCKET"])
while True:
    try:
        connection, _ = listener.accept()
    except OSError:  # EINVAL while another instance's shutdown(2) holds the socket down
        time.sleep(0.01)
        continue
    connection.sendall(line.encode())
    connection.close()
)";

std::vector<std::string> fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

// The instances (first field) that answered connections to `port`, each reply of 7 fields
// passed to `check`, until `count` have answered or 10 s have passed. An instance says READY=1
// before it reaches accept(), so it may miss the first connections: a fixed number of tries can
// all land on the other one.
std::set<std::string> instances_answering(
    uint16_t port, size_t count,
    const std::function<void(const std::vector<std::string>&)>& check) {
  std::set<std::string> instances;
  eventually(
      [&] {
        const auto line = fields(read_until_close(connect_tcp(port)));
        if (line.size() != 7u) {
          ADD_FAILURE() << "a reply of " << line.size() << " fields, not 7";
          return true;
        }
        check(line);
        instances.insert(line[0]);
        return instances.size() >= count;
      },
      10s);
  return instances;
}

// Whether process `pid` (memvisor's controller) has the socket of that inode open.
bool holds_socket(pid_t pid, const std::string& inode) {
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code error;
    const auto target = std::filesystem::read_symlink(entry.path(), error);
    if (!error && target.string() == "socket:[" + inode + "]") return true;
  }
  return false;
}

TEST(Listen, EveryInstanceAndReplacementAcceptsFromTheSameSocket) {
  TempDir dir;
  const auto port = static_cast<uint16_t>(free_port());
  const std::string server = dir.write("server.py", kServer);
  Memvisor memvisor(dir, {"--name", "web", "--instances", "2", "--ready", "notify", "--listen",
                          "127.0.0.1:" + std::to_string(port), "--stop-signal", "SIGTERM", "--",
                          "python3", server});
  ASSERT_EQ(memvisor.wait_events("ready", 2, 20s).size(), 2u) << memvisor.err();

  // Each instance: LISTEN_PID is its own pid, one fd named after the service.
  std::set<std::string> inodes;
  const auto instances = instances_answering(port, 2, [&](const std::vector<std::string>& line) {
    EXPECT_EQ(line[3], line[2]) << "LISTEN_PID is not the worker's pid";
    EXPECT_EQ(line[4], "1");
    EXPECT_EQ(line[5], "web");
    inodes.insert(line[6]);
  });
  EXPECT_EQ(instances.size(), 2u) << "the kernel spreads accepts over both instances";
  ASSERT_EQ(inodes.size(), 1u) << "the instances have different sockets";
  const std::string inode = *inodes.begin();
  EXPECT_TRUE(holds_socket(memvisor.pid(), inode));

  // A recycle of the whole service: every replacement (generation 2) has the same socket.
  ASSERT_EQ(run_memvisor({"restart", "web", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 2, 30s).size(), 2u) << memvisor.err();
  const auto generations = instances_answering(port, 2, [&](const std::vector<std::string>& line) {
    EXPECT_EQ(line[1], "2");
    EXPECT_EQ(line[3], line[2]);
    EXPECT_EQ(line[6], inode) << "a replacement got another socket";
  });
  EXPECT_EQ(generations.size(), 2u) << "both replacements accept from the socket";
}

// kServer that, stopping, calls shutdown(2) on its listener as WEBrick does: the socket is
// every instance's, so that stops it listening for all of them.
const char* kShutsDownOnStop = R"(import os, signal, socket, sys
def stop(*_):
    listener.shutdown(socket.SHUT_RDWR)  # kServer's listener, on fd 3
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
)";

// A worker's shutdown(2) on the shared socket is undone at once: memvisor listens on it again
// (same socket, same inode), and the other instance and the replacement go on accepting. It
// was refused for good: every later instance inherited a socket that no longer listened, while
// /health said every instance was ready.
TEST(Listen, ASocketAWorkerShutDownListensAgain) {
  TempDir dir;
  const auto port = static_cast<uint16_t>(free_port());
  const std::string server = dir.write("server.py", std::string(kShutsDownOnStop) + kServer);
  Memvisor memvisor(dir, {"--name", "web", "--instances", "2", "--ready", "notify", "--listen",
                          "127.0.0.1:" + std::to_string(port), "--stop-signal", "SIGTERM", "--",
                          "python3", server});
  ASSERT_EQ(memvisor.wait_events("ready", 2, 20s).size(), 2u) << memvisor.err();
  ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 30s).size(), 1u) << memvisor.err();
  const auto restored = memvisor.wait_events("listen_restored", 1, 10s);
  ASSERT_EQ(restored.size(), 1u) << memvisor.err();
  EXPECT_EQ(restored[0]["service"], "web");
  EXPECT_EQ(restored[0]["address"], "127.0.0.1:" + std::to_string(port));
  const auto answering = instances_answering(port, 2, [](const std::vector<std::string>&) {});
  EXPECT_EQ(answering.size(), 2u) << "both instances accept again";
}

// A unix socket keeps a shutdown for good: that is said, as an error, with what follows.
TEST(Listen, AUnixSocketAWorkerShutDownIsReportedLost) {
  TempDir dir;
  const std::string path = dir.file("web.sock");
  const std::string server = dir.write("server.py", std::string(kShutsDownOnStop) + kServer);
  const int port = free_port();
  Memvisor memvisor(
      dir, {"--name", "web", "--ready", "notify", "--listen", "unix:" + path, "--stop-signal",
            "SIGTERM", "--http", "127.0.0.1:" + std::to_string(port), "--", "python3", server});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 20s).size(), 1u) << memvisor.err();
  ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  const auto lost = memvisor.wait_events("listen_lost", 1, 30s);
  ASSERT_EQ(lost.size(), 1u) << memvisor.err();
  EXPECT_NE(lost[0]["message"].get<std::string>().find("refused until memvisor restarts"),
            std::string::npos)
      << lost[0].dump();
  // Every instance ready, yet the service refuses connections: /health says so.
  std::optional<HttpReply> health;
  EXPECT_TRUE(eventually(
      [&] {
        health = http_get(port, "/health");
        return health && health->status == 503;
      },
      10s))
      << (health ? health->body : "no reply");
  if (health) {
    EXPECT_NE(health->body.find("web: not listening on unix:" + path), std::string::npos)
        << health->body;
  }
}

TEST(Listen, TheSocketOutlivesEveryInstanceAndTheSupervisor) {
  TempDir dir;
  const auto port = static_cast<uint16_t>(free_port());
  const std::string server = dir.write("server.py", kServer);
  Memvisor memvisor(
      dir, {"--name", "web", "--ready", "notify", "--listen", "127.0.0.1:" + std::to_string(port),
            "--stop-signal", "SIGTERM", "--", "python3", server});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 20s).size(), 1u) << memvisor.err();
  const std::string inode = fields(read_until_close(connect_tcp(port))).at(6);

  // The supervisor dies hard: the controller still holds the socket, the worker still serves.
  pid_t supervisor = 0;
  for (pid_t pid : descendants(memvisor.pid())) {
    if (read_text("/proc/" + std::to_string(pid) + "/cmdline").find("supervise") !=
        std::string::npos) {
      supervisor = pid;
    }
  }
  ASSERT_GT(supervisor, 0);
  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  EXPECT_EQ(fields(read_until_close(connect_tcp(port))).at(6), inode);

  // No instance at all: connections queue in the held socket instead of being refused ...
  ASSERT_EQ(run_memvisor({"stop", "web", "--state-dir", memvisor.state_dir()}, 30s).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return !memvisor.events("exited").empty(); }, 20s));
  const int queued = connect_tcp(port);
  ASSERT_GE(queued, 0) << "connection refused while the service was stopped";
  // ... and the next instance serves them, from the same socket.
  ASSERT_EQ(run_memvisor({"start", "web", "--state-dir", memvisor.state_dir()}, 30s).exit_code, 0);
  const auto line = fields(read_until_close(queued));
  ASSERT_EQ(line.size(), 7u) << "the queued connection was not served";
  EXPECT_EQ(line[6], inode);
  EXPECT_EQ(line[1], "2");
}

TEST(Listen, AUnixSocketGetsItsModeReplacesAStaleFileAndGoesAtExit) {
  TempDir dir;
  const std::string path = dir.file("web.sock");
  {  // A stale socket file, as a crashed run leaves it.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
    ::close(fd);
  }
  Memvisor memvisor(dir, {"--name", "web", "--listen", "unix:" + path, "--listen-mode", "0600",
                          "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 20s).size(), 1u) << memvisor.err();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  memvisor.signal(SIGTERM);
  ASSERT_EQ(memvisor.wait(30s), 0) << memvisor.err();
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "the socket file was left behind";
}

TEST(Listen, AnAddressInUseStopsEverythingBeforeAnyInstance) {
  TempDir dir;
  const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&in), sizeof in), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  socklen_t length = sizeof in;
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&in), &length), 0);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(in.sin_port));
  const std::string marker = dir.file("started");

  const auto result = run_memvisor({"run", "--state-dir", dir.file("state"), "--name", "web",
                                    "--listen", address, "--", "touch", marker});
  ::close(holder);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err,
            "memvisor: service web: listen on " + address + ": Address already in use\n");
  EXPECT_FALSE(std::filesystem::exists(marker)) << "an instance started anyway";
}

TEST(Listen, MalformedAddressesAreUsageErrors) {
  TempDir dir;
  const std::string config =
      dir.write("web.toml", "[service.web]\ncommand = [\"sleep\", \"60\"]\nlisten = [\"8000\"]\n");
  auto checked = run_memvisor({"check", config});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_EQ(checked.err.substr(0, checked.err.find(" missing")),
            "memvisor: " + config + ":3:11: service.web.listen[0]:");

  auto flagged = run_memvisor(
      {"run", "--state-dir", dir.file("state"), "--listen", "unix:", "--", "sleep", "60"});
  EXPECT_EQ(flagged.exit_code, 2);
  EXPECT_EQ(flagged.err,
            "memvisor: --listen: expected a path after 'unix:' (e.g. "
            "\"unix:/run/app/web.sock\")\n");
}

// systemd-socket-activate binds, waits for the first connection, then execs memvisor with the
// socket at fd 3 (LISTEN_FDS, LISTEN_PID = memvisor's pid): memvisor takes it over instead of
// binding, and the connection that was waiting is served.
TEST(Listen, TakesOverTheSocketItsServiceManagerPassed) {
  if (!have_program("systemd-socket-activate")) GTEST_SKIP() << "no systemd-socket-activate";
  TempDir dir;
  const auto port = static_cast<uint16_t>(free_port());
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::string server = dir.write("server.py", kServer);
  Memvisor memvisor(
      dir,
      {"--name", "web", "--ready", "notify", "--listen", "fdname:http", "--", "python3", server},
      {"systemd-socket-activate", "-l", address, "--fdname=http"});
  int first = -1;
  ASSERT_TRUE(eventually([&] { return (first = connect_tcp(port)) >= 0; }, 10s));
  const auto line = fields(read_until_close(first));
  ASSERT_EQ(line.size(), 7u) << memvisor.err();
  EXPECT_EQ(line[5], "http") << "the passed socket's name is handed on";
  EXPECT_TRUE(holds_socket(memvisor.pid(), line[6]));
  EXPECT_EQ(memvisor.events("listening").size(), 1u);
}

}  // namespace
}  // namespace memvisor::testing

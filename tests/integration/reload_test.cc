// Live reload on the real binary: `memvisor reload` and SIGHUP read the file again; rules apply at
// once without replacing a process, a spawn change rolls the service one instance at a time,
// instances and services come and go, and a broken file changes nothing and says where.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <set>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

// A worker holding ~40 MiB, steady, that prints its VERSION.
constexpr const char* kHolder =
    "import os, time\nheld = bytearray(40 << 20)\nprint('version', os.environ.get('VERSION'), "
    "flush=True)\nwhile True:\n    time.sleep(1)\n";

// A socket listening on 127.0.0.1:port, or -1.
int listen_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 4) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether something listens on 127.0.0.1:port.
bool listening(int port) {
  const int fd = connect_loopback(port);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

std::string service(const std::string& name, int instances, const std::string& rest = "") {
  return "[service." + name + "]\ncommand = [\"python3\", \"-c\", \"\"\"" + kHolder +
         "\"\"\"]\ninstances = " + std::to_string(instances) + "\ninterval = \"200ms\"\n" +
         "stop_signal = \"TERM\"\n" + rest + "\n";
}

CommandResult reload(const Memvisor& memvisor) {
  return run_memvisor({"reload", "--state-dir", memvisor.state_dir()});
}

std::set<int> pids_of(const Memvisor& memvisor, const std::string& name) {
  std::set<int> pids;
  const nlohmann::json status = status_of(memvisor);
  if (!status.is_object()) return pids;
  for (const auto& record : status["instances"]) {
    if (record.value("service", "") == name && record.value("pid", 0) != 0)
      pids.insert(record.value("pid", 0));
  }
  return pids;
}

// Instance labels ("web.1") the status lists.
std::set<std::string> labels_of(const Memvisor& memvisor) {
  std::set<std::string> labels;
  const nlohmann::json status = status_of(memvisor);
  if (!status.is_object()) return labels;
  for (const auto& record : status["instances"]) {
    labels.insert(record.value("service", "") + "." + std::to_string(record.value("instance", 0)));
  }
  return labels;
}

TEST(Reload, RulesApplyAtOnceWithoutReplacingAProcess) {
  TempDir dir;
  const std::string path = dir.write("web.toml", service("web", 2, "warn = \"1GiB\""));
  Memvisor memvisor(dir, {path});
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s).size(), 2u) << memvisor.err();
  ASSERT_TRUE(eventually([&] { return memvisor.out().find("version") != std::string::npos; }, 10s));
  const std::set<int> before = pids_of(memvisor, "web");
  ASSERT_EQ(before.size(), 2u);
  EXPECT_TRUE(memvisor.events("rule").empty()) << "no warning at 1GiB";

  dir.write("web.toml", service("web", 2, "warn = \"20MiB\""));
  const CommandResult result = reload(memvisor);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("web: memory.warn changed, applied at once"), std::string::npos)
      << result.out;
  // Both processes are now above the new warn: each warned, none replaced.
  const auto warned = memvisor.wait_events("rule", 2, 10s);
  ASSERT_EQ(warned.size(), 2u) << memvisor.err();
  for (const auto& event : warned) EXPECT_EQ(event["rule"], "warn");
  EXPECT_EQ(pids_of(memvisor, "web"), before);
  EXPECT_EQ(memvisor.events("started").size(), 2u);
  const auto changes = memvisor.events("reload");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0]["reason"], "rules");
  EXPECT_EQ(changes[0]["service"], "web");
  // The event names its service once: its line reads "web: memory.warn changed, …", not
  // "web: web: …".
  EXPECT_EQ(changes[0]["message"], "memory.warn changed, applied at once") << changes[0].dump();

  // The same file again: nothing to do.
  const CommandResult again = reload(memvisor);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("no change"), std::string::npos) << again.out;
}

TEST(Reload, ABrokenFileChangesNothingAndSaysWhere) {
  TempDir dir;
  const std::string good = service("web", 1, "warn = \"1GiB\"");
  const std::string path = dir.write("web.toml", good);
  Memvisor memvisor(dir, {path});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  const std::set<int> before = pids_of(memvisor, "web");

  // A bad size on the file's last line, and a TOML syntax error: both refused with the place.
  for (const std::string& broken : {good + "limit = \"lots\"\n", good + "instances = [\n"}) {
    dir.write("web.toml", broken);
    const CommandResult result = reload(memvisor);
    EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
    EXPECT_NE(result.err.find(path + ":"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("nothing changed"), std::string::npos) << result.err;
  }
  // SIGHUP with a broken file: the same refusal, as an event.
  memvisor.signal(SIGHUP);
  ASSERT_EQ(memvisor.wait_events("reload_failed", 3, 5s).size(), 3u) << memvisor.err();
  EXPECT_NE(memvisor.events("reload_failed")[2]["message"].get<std::string>().find(path + ":"),
            std::string::npos);
  EXPECT_TRUE(memvisor.events("reload").empty());
  EXPECT_EQ(pids_of(memvisor, "web"), before);

  // The command line's --state-dir wins over the file's, at start as at a reload: no change.
  // (Without the flag, a different state_dir is refused: ConfigDiff's unit test.)
  dir.write("web.toml", "[supervisor]\nstate_dir = \"" + dir.file("elsewhere") + "\"\n" + good);
  const CommandResult moved = reload(memvisor);
  EXPECT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_NE(moved.out.find("no change"), std::string::npos) << moved.out;

  // Fixed: the next reload applies.
  dir.write("web.toml", service("web", 1, "warn = \"2GiB\""));
  EXPECT_EQ(reload(memvisor).exit_code, 0);
  EXPECT_EQ(memvisor.events("reload").size(), 1u);
  EXPECT_EQ(pids_of(memvisor, "web"), before);
}

TEST(Reload, ASpawnChangeRollsTheServiceOneInstanceAtATime) {
  TempDir dir;
  const std::string path = dir.write("web.toml", service("web", 2, "env = { VERSION = \"1\" }"));
  Memvisor memvisor(dir, {path});
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s).size(), 2u) << memvisor.err();
  const std::set<int> before = pids_of(memvisor, "web");

  dir.write("web.toml", service("web", 2, "env = { VERSION = \"2\" }"));
  memvisor.signal(SIGHUP);
  ASSERT_EQ(memvisor.wait_events("recycled", 2, 30s).size(), 2u) << memvisor.err();
  ASSERT_TRUE(eventually(
      [&] {
        const std::set<int> now = pids_of(memvisor, "web");
        return now.size() == 2 &&
               std::none_of(now.begin(), now.end(), [&](int pid) { return before.contains(pid); });
      },
      10s));
  // ready = immediate: a process is ready at spawn, so it may not have exec'd yet (its environ is
  // still memvisor's for that moment).
  for (const int pid : pids_of(memvisor, "web")) {
    EXPECT_TRUE(eventually(
        [&] {
          return read_text("/proc/" + std::to_string(pid) + "/environ").find("VERSION=2") !=
                 std::string::npos;
        },
        5s));
  }
  for (const auto& event : memvisor.events("recycle")) EXPECT_EQ(event["reason"], "reload");
  // max_recycling = 1: the second instance waited for the first.
  EXPECT_EQ(memvisor.events("recycle_queued").size(), 1u);
  const auto changes = memvisor.events("reload");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0]["reason"], "rolled");
  EXPECT_EQ(changes[0]["fields"], nlohmann::json::array({"env"}));
  EXPECT_EQ(memvisor.events("reloaded").at(0)["reason"], "SIGHUP");
}

// A reload whose new command never gets ready: the old process serves on (as for any recycle),
// and the failed deploy shows, in status and in the next reload's answer, and is tried again
// after a pause, so once the new command works the service runs it. It looked done before:
// status 1/1 ready, a second reload "no change", and the next crash started the new command.
TEST(Reload, AFailedRollShowsAndIsTriedAgain) {
  TempDir dir;
  const std::string flag = dir.file("deploy-ok");
  auto config = [&](const std::string& gate) {
    return "[service.web]\ncommand = [\"/bin/sh\", \"-c\", \"" + gate +
           "systemd-notify --ready; exec sleep 600\"]\nready = \"notify\"\n"
           "startup_timeout = \"1s\"\nrestart_delay = \"100ms\"\n";
  };
  const std::string path = dir.write("web.toml", config(""));
  Memvisor memvisor(dir, {path});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s, "web.1").size(), 1u) << memvisor.err();
  const int old_pid = memvisor.events("started", "web.1").at(0).value("pid", 0);

  // The new command exits unless the flag file exists.
  dir.write("web.toml", config("[ -e " + flag + " ] || exit 3; "));
  ASSERT_EQ(reload(memvisor).exit_code, 0);
  const auto failed = memvisor.wait_events("recycle_failed", 1, 20s, "web.1");
  ASSERT_EQ(failed.size(), 1u) << memvisor.err();
  EXPECT_NE(failed[0]
                .value("message", "")
                .find("runs the config from before the reload; trying "
                      "again in 10s"),
            std::string::npos)
      << failed[0].dump();
  EXPECT_EQ(pids_of(memvisor, "web"), std::set<int>{old_pid});

  // Shown: in status (JSON and text) and in the answer to a reload that changes nothing.
  const nlohmann::json status = status_of(memvisor);
  ASSERT_TRUE(status.is_object());
  bool outdated = false;
  for (const auto& record : status["instances"]) outdated |= record.contains("outdated");
  EXPECT_TRUE(outdated) << status.dump();
  const auto text = run_memvisor({"status", "--state-dir", memvisor.state_dir()});
  EXPECT_NE(text.out.find("web: 1/1 ready, 1 on the config from before the last reload"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("running (outdated)"), std::string::npos) << text.out;
  const auto again = reload(memvisor);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("web.1: still runs the config from before a reload (pid " +
                           std::to_string(old_pid) + ")"),
            std::string::npos)
      << again.out;

  // The new command works now: the retry, 10 s after the failure, rolls web.1 onto it.
  dir.write("deploy-ok", "");
  const auto recycled = memvisor.wait_events("recycled", 1, 30s, "web.1");
  ASSERT_EQ(recycled.size(), 1u) << memvisor.err();
  EXPECT_EQ(recycled[0].value("reason", ""), "reload");
  const nlohmann::json after = status_of(memvisor);
  for (const auto& record : after["instances"]) EXPECT_FALSE(record.contains("outdated"));
}

TEST(Reload, InstancesAndServicesComeAndGo) {
  TempDir dir;
  const std::string path = dir.write("fleet.toml", service("web", 2) + service("jobs", 1));
  Memvisor memvisor(dir, {path});
  ASSERT_EQ(memvisor.wait_events("started", 3, 10s).size(), 3u) << memvisor.err();
  const std::set<int> web_before = pids_of(memvisor, "web");
  const std::set<int> jobs_before = pids_of(memvisor, "jobs");

  dir.write("fleet.toml", service("web", 3) + service("mail", 1));
  const CommandResult result = reload(memvisor);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("web: instances 2 → 3"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("mail: added"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("jobs: removed"), std::string::npos) << result.out;
  const std::set<std::string> wanted = {"web.1", "web.2", "web.3", "mail.1"};
  EXPECT_TRUE(eventually([&] { return labels_of(memvisor) == wanted; }, 15s))
      << status_of(memvisor).dump();
  // The job stopped gracefully (its stop signal, then it exited) and was never restarted.
  const int job = *jobs_before.begin();
  const auto retired = memvisor.wait_events("retired", 1, 10s, "jobs.1");
  EXPECT_FALSE(process_alive(job));
  ASSERT_EQ(retired.size(), 1u);
  EXPECT_EQ(retired[0]["reason"], "reload");
  EXPECT_EQ(memvisor.events("started", "jobs.1").size(), 1u);
  // web.1 and web.2 ran on untouched.
  for (const int pid : web_before) EXPECT_TRUE(pids_of(memvisor, "web").contains(pid));

  // And back down: web.3 goes, web.1 and web.2 stay.
  dir.write("fleet.toml", service("web", 2) + service("mail", 1));
  ASSERT_EQ(reload(memvisor).exit_code, 0);
  EXPECT_TRUE(eventually(
      [&] {
        return labels_of(memvisor) == std::set<std::string>{"web.1", "web.2", "mail.1"};
      },
      15s));
  EXPECT_EQ(pids_of(memvisor, "web"), web_before);
}

TEST(Reload, TheHttpEndpointMovesToItsNewAddress) {
  TempDir dir;
  const int first = free_port();
  int second = free_port();
  while (second == first) second = free_port();
  auto config = [&](int port) {
    return "[supervisor]\nhttp = \"127.0.0.1:" + std::to_string(port) + "\"\n" + service("web", 1);
  };
  const std::string path = dir.write("web.toml", config(first));
  Memvisor memvisor(dir, {path});
  ASSERT_TRUE(eventually([&] { return http_get(first, "/health").has_value(); }, 10s))
      << memvisor.err();

  dir.write("web.toml", config(second));
  const CommandResult result = reload(memvisor);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("supervisor.http"), std::string::npos) << result.out;
  EXPECT_TRUE(eventually([&] { return http_get(second, "/health").has_value(); }, 10s))
      << memvisor.err();
  EXPECT_FALSE(http_get(first, "/health").has_value());
  EXPECT_EQ(memvisor.events("started").size(), 1u);
}

TEST(Reload, ANewListenAddressIsBoundBeforeAnythingChanges) {
  TempDir dir;
  const int first = free_port();
  int second = free_port();
  while (second == first) second = free_port();
  auto config = [&](int port) {
    return service("web", 1, "listen = \"127.0.0.1:" + std::to_string(port) + "\"");
  };
  const std::string path = dir.write("web.toml", config(first));
  Memvisor memvisor(dir, {path});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  const std::set<int> before = pids_of(memvisor, "web");

  // Someone else holds the new address: refused, nothing changed, the old socket still listens.
  const int squatter = listen_loopback(second);
  ASSERT_GE(squatter, 0);
  dir.write("web.toml", config(second));
  const CommandResult refused = reload(memvisor);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.err.find(std::to_string(second)), std::string::npos) << refused.err;
  EXPECT_EQ(pids_of(memvisor, "web"), before);
  EXPECT_TRUE(listening(first));

  // Freed: the service rolls onto the new address, and the old one is closed.
  ::close(squatter);
  ASSERT_EQ(reload(memvisor).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 15s).size(), 1u) << memvisor.err();
  EXPECT_TRUE(listening(second));
  EXPECT_TRUE(eventually([&] { return !listening(first); }, 5s));
}

TEST(Reload, AServiceGivenOnTheCommandLineHasNoFileToRead) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  ASSERT_TRUE(eventually([&] { return status_of(memvisor).is_object(); }, 10s));
  const CommandResult result = reload(memvisor);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("no config file"), std::string::npos) << result.err;
  EXPECT_EQ(memvisor.events("started").size(), 1u);
}

}  // namespace
}  // namespace memvisor::testing

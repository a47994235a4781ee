// The agent client against fake agents served by a test thread on a Unix socket: a good window,
// a refusal, malformed, oversized and silent replies, a missing or dead socket, and an agent
// that opens its socket only when woken (Ruby).
#include "runtimes/agent/agent_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "os/test_temp_dir.h"
#include "os/unix_stream.h"

namespace memvisor {
namespace {

using namespace std::chrono_literals;

const std::string kProfileReply =
    R"({"state":"done","profile":{"runtime":"ruby","method":"m","window_s":0.1,)"
    R"("entries":[{"frames":[{"function":"Object#archive_order","file":"/app/a.rb",)"
    R"("line":9,"module":"a"}],"retained_bytes":100,"retained_count":1,"samples":1}]}})"
    "\n";

// One fake agent: accepts one connection, reads the request line, then plays `script` (text to
// send, with "<pause>" for a 300 ms pause), then holds the connection until the client hangs up.
class FakeAgent {
 public:
  explicit FakeAgent(std::vector<std::string> script, std::string path = "")
      : script_(std::move(script)) {
    path_ = path.empty() ? dir_ / "1.agent" : path;
    std::filesystem::remove(path_);  // a stale socket, as the Ruby agent does
    auto listener = listen_unix(path_, 0600);
    if (listener) listener_ = std::move(*listener);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeAgent() { thread_.join(); }
  const std::string& path() const { return path_; }
  const std::string& request() const { return request_; }

 private:
  void serve() {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    auto conn = accept_unix(listener_.get());
    if (!conn) return;
    char c;
    for (;;) {
      pollfd q{conn->get(), POLLIN, 0};
      if (::poll(&q, 1, 5000) <= 0 || ::read(conn->get(), &c, 1) != 1 || c == '\n') break;
      request_ += c;
    }
    for (const std::string& part : script_) {
      if (part == "<pause>") {
        std::this_thread::sleep_for(300ms);
      } else if (!write_all(conn->get(), part)) {
        return;
      }
    }
    pollfd q{conn->get(), POLLIN, 0};
    ::poll(&q, 1, 5000);  // until the client hangs up
  }

  TestTempDir dir_;
  std::string path_;
  UniqueFd listener_;
  std::vector<std::string> script_;
  std::string request_;
  std::thread thread_;
};

AgentWindowRequest window_for(const std::string& path) {
  AgentWindowRequest request;
  request.socket_path = path;
  request.duration = 100ms;
  request.timeout = 2000ms;
  request.who = "the test agent";
  return request;
}

TEST(AgentClient, GoodWindowGivesTheProfileAndReportsProgress) {
  FakeAgent agent({"{\"state\":\"recording\"}\n", "<pause>", kProfileReply});
  AgentWindowRequest request = window_for(agent.path());
  request.expected_pid = ::getpid();  // the fake agent's socket is served by this process
  std::vector<std::string> states;
  auto profile =
      run_agent_window(request, [&](Millis, const char* state) { states.emplace_back(state); });
  ASSERT_TRUE(profile.ok()) << profile.error().describe();
  EXPECT_EQ(profile->runtime, "ruby");
  ASSERT_EQ(profile->entries.size(), 1u);
  EXPECT_EQ(profile->entries[0].frames[0].function, "Object#archive_order");
  EXPECT_NE(std::find(states.begin(), states.end(), "recording"), states.end());
  EXPECT_NE(agent.request().find("\"duration_ms\":100"), std::string::npos) << agent.request();
}

TEST(AgentClient, RefusalCarriesTheAgentsReason) {
  FakeAgent agent({R"({"state":"error","error":"a sample window is already open"})"
                   "\n"});
  auto profile = run_agent_window(window_for(agent.path()), {});
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.error().message.find("refused: a sample window is already open"),
            std::string::npos)
      << profile.error().message;
}

TEST(AgentClient, MalformedReplyIsAnError) {
  FakeAgent agent({"{\"state\":\"recording\"}\n", "{\"state\":\"done\",\"profile\":[]}\n"});
  auto profile = run_agent_window(window_for(agent.path()), {});
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.error().message.find("profile: not a JSON object"), std::string::npos)
      << profile.error().message;
}

TEST(AgentClient, OversizedReplyIsRefusedAtTheBound) {
  FakeAgent agent({"{\"state\":\"recording\"}\n",
                   "{\"state\":\"done\",\"profile\":\"" + std::string(3 << 20, 'x') + "\"}\n"});
  AgentWindowRequest request = window_for(agent.path());
  request.max_reply = 1 << 20;
  auto profile = run_agent_window(request, {});
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.error().message.find("sent more than 1 MiB"), std::string::npos)
      << profile.error().message;
}

TEST(AgentClient, SilentAgentMeetsTheDeadline) {
  FakeAgent agent({"{\"state\":\"recording\"}\n"});
  AgentWindowRequest request = window_for(agent.path());
  request.timeout = 500ms;
  const auto start = std::chrono::steady_clock::now();
  auto profile = run_agent_window(request, {});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.error().errnum, ETIMEDOUT);
  EXPECT_NE(profile.error().message.find("sent no profile within the timeout"), std::string::npos)
      << profile.error().message;
  EXPECT_LT(took, 5s);  // bounded, not a timing claim: the fake holds the line for 5 s
}

TEST(AgentClient, AgentThatNeverSaysRecordingMeetsTheFirstAnswerBound) {
  FakeAgent agent({});
  AgentWindowRequest request = window_for(agent.path());
  request.first_answer = 300ms;
  auto profile = run_agent_window(request, {});
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.error().message.find("did not answer within 300ms"), std::string::npos)
      << profile.error().message;
}

TEST(AgentClient, HangUpWithoutAnswerIsAnError) {
  TestTempDir dir;
  const std::string path = dir / "2.agent";
  auto listener = listen_unix(path, 0600);
  ASSERT_TRUE(listener.ok());
  std::thread agent([&] {
    pollfd p{listener->get(), POLLIN, 0};
    ::poll(&p, 1, 5000);
    auto conn = accept_unix(listener->get());
    (void)conn;  // closed at once
  });
  auto profile = run_agent_window(window_for(path), {});
  agent.join();
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.error().message.find("hung up without an answer"), std::string::npos)
      << profile.error().message;
}

TEST(AgentClient, MissingAndDeadSocketsAreTold) {
  TestTempDir dir;
  auto missing = run_agent_window(window_for(dir / "3.agent"), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum, ENOENT);
  {
    auto listener = listen_unix(dir / "4.agent", 0600);  // closed: the file stays, nobody listens
    ASSERT_TRUE(listener.ok());
  }
  auto dead = run_agent_window(window_for(dir / "4.agent"), {});
  ASSERT_FALSE(dead.ok());
  EXPECT_EQ(dead.error().errnum, ECONNREFUSED);
  EXPECT_NE(dead.error().message.find("nothing listens"), std::string::npos)
      << dead.error().message;
}

TEST(AgentClient, SocketOfAnotherProcessIsRefused) {
  FakeAgent agent({"{\"state\":\"recording\"}\n"});
  AgentWindowRequest request = window_for(agent.path());
  request.expected_pid = ::getpid() + 1;
  auto profile = run_agent_window(request, {});
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.error().message.find("is served by pid"), std::string::npos)
      << profile.error().message;
}

TEST(AgentClient, WakeOpensTheSocketThenTheWindowRuns) {
  TestTempDir dir;
  const std::string path = dir / "5.agent";
  std::unique_ptr<FakeAgent> agent;
  int wakes = 0;
  AgentWindowRequest request = window_for(path);
  request.wake = [&]() -> Status {
    ++wakes;
    agent = std::make_unique<FakeAgent>(
        std::vector<std::string>{"{\"state\":\"recording\"}\n", kProfileReply}, path);
    return {};
  };
  auto profile = run_agent_window(request, {});
  ASSERT_TRUE(profile.ok()) << profile.error().describe();
  EXPECT_EQ(profile->entries.size(), 1u);
  EXPECT_EQ(wakes, 1);
}

TEST(AgentClient, StaleSocketIsWokenToo) {
  TestTempDir dir;
  const std::string path = dir / "6.agent";
  {
    auto listener = listen_unix(path, 0600);  // closed: the file stays, nobody listens
    ASSERT_TRUE(listener.ok());
  }
  std::unique_ptr<FakeAgent> agent;
  AgentWindowRequest request = window_for(path);
  request.wake = [&]() -> Status {
    agent = std::make_unique<FakeAgent>(
        std::vector<std::string>{"{\"state\":\"recording\"}\n", kProfileReply}, path);
    return {};
  };
  auto profile = run_agent_window(request, {});
  ASSERT_TRUE(profile.ok()) << profile.error().describe();
}

TEST(AgentClient, WakeThatNeverOpensResendsThenGivesTheCallersReason) {
  TestTempDir dir;
  int wakes = 0;
  AgentWindowRequest request = window_for(dir / "7.agent");
  request.wake = [&]() -> Status {
    ++wakes;
    return {};
  };
  request.wake_wait = 400ms;
  request.wake_resend = 100ms;
  request.wake_failure = [] { return std::string("the trap never ran"); };
  auto profile = run_agent_window(request, {});
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.error().errnum, ETIMEDOUT);
  EXPECT_EQ(profile.error().message, "the trap never ran");
  EXPECT_GE(wakes, 2);
}

TEST(AgentClient, WakeRefusalIsTheError) {
  TestTempDir dir;
  AgentWindowRequest request = window_for(dir / "8.agent");
  request.wake = []() -> Status { return Error{"the app traps SIGURG itself", 0}; };
  auto profile = run_agent_window(request, {});
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.error().message, "the app traps SIGURG itself");
}

}  // namespace
}  // namespace memvisor

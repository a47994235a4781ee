// The agents' protocol lines and the reasons given when no agent listens.
#include "runtimes/agent/agent_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace memvisor {
namespace {

const std::string kGoodProfile =
    R"({"runtime":"python","method":"m","window_s":1.5,"allocated_known":false,)"
    R"("entries":[{"frames":[{"function":"loads","file":"/usr/lib/python3.11/json/__init__.py",)"
    R"("line":346,"module":"json"},{"function":"remember","file":"/app/a.py","line":7,)"
    R"("module":"a"}],"site":1,"retained_bytes":4096,"retained_count":2,"samples":2}]})";

TEST(AgentProtocol, RequestLineIsOneJsonLine) {
  const std::string line = agent_request_line(Millis(3000), 16, 524288);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["protocol"], 1);
  EXPECT_EQ(j["duration_ms"], 3000);
  EXPECT_EQ(j["frames"], 16);
  EXPECT_EQ(j["interval_bytes"], 524288);
}

TEST(AgentProtocol, RepliesOfEachState) {
  auto recording = parse_agent_reply(R"({"state":"recording"})");
  ASSERT_TRUE(recording.ok()) << recording.error().describe();
  EXPECT_EQ(recording->state, AgentReply::State::recording);

  auto error = parse_agent_reply(R"({"state":"error","error":"tracemalloc is already tracing"})");
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->state, AgentReply::State::error);
  EXPECT_EQ(error->error, "tracemalloc is already tracing");

  auto done = parse_agent_reply(R"({"state":"done","profile":)" + kGoodProfile + "}");
  ASSERT_TRUE(done.ok()) << done.error().describe();
  EXPECT_EQ(done->state, AgentReply::State::done);
  EXPECT_EQ(done->profile.runtime, "python");
  EXPECT_FALSE(done->profile.allocated_known);
  ASSERT_EQ(done->profile.entries.size(), 1u);
  EXPECT_EQ(done->profile.entries[0].site, 1u);
  EXPECT_EQ(done->profile.entries[0].frames[1].function, "remember");
}

TEST(AgentProtocol, MalformedRepliesAreErrors) {
  for (const char* line : {"", "not json", "[1,2]", R"({"state":7})", R"({"state":"sleeping"})",
                           R"({"state":"done"})", R"({"state":"done","profile":{"runtime":1}})",
                           R"({"state":"done","profile":{"runtime":"ruby","method":"m",)"
                           R"("entries":[{"frames":[{"line":3}]}]}})"}) {
    EXPECT_FALSE(parse_agent_reply(line).ok()) << line;
  }
}

std::string environ_of(std::initializer_list<std::string> entries) {
  std::string text;
  for (const auto& e : entries) text += e + '\0';
  return text;
}

const auto kAgentsIn = [](const std::string& dir) { return dir == "/opt/memvisor/agents/python"; };
const auto kRubyAgentsIn = [](const std::string& dir) {
  return dir == "/opt/memvisor/agents/ruby";
};

TEST(AgentProtocol, PythonIsolatedOrIgnoringTheEnvironmentIsNamed) {
  const std::string env = environ_of({"PYTHONPATH=/opt/memvisor/agents/python:/app"});
  const std::string isolated =
      agent_absent_reasons(RuntimeKind::python, {"python3", "-I", "app.py"}, env, kAgentsIn);
  EXPECT_NE(isolated.find("-I (isolated mode"), std::string::npos) << isolated;
  const std::string combined = agent_absent_reasons(
      RuntimeKind::python, {"python3", "-uE", "-X", "dev", "app.py"}, env, kAgentsIn);
  EXPECT_NE(combined.find("-E"), std::string::npos) << combined;
  const std::string no_site =
      agent_absent_reasons(RuntimeKind::python, {"python3", "-S", "-m", "app"}, env, kAgentsIn);
  EXPECT_NE(no_site.find("-S"), std::string::npos) << no_site;
  // A flag of the program, after -m or the script, is not the interpreter's.
  const std::string program_flag =
      agent_absent_reasons(RuntimeKind::python, {"python3", "-m", "app", "-I"}, env, kAgentsIn);
  EXPECT_EQ(program_flag.find("-I"), std::string::npos) << program_flag;
  EXPECT_NE(program_flag.find("started before heap_sampler"), std::string::npos) << program_flag;
}

TEST(AgentProtocol, PythonPathReplacedOrClearedIsNamed) {
  const std::string replaced = agent_absent_reasons(RuntimeKind::python, {"python3", "app.py"},
                                                    environ_of({"PYTHONPATH=/app"}), kAgentsIn);
  EXPECT_NE(replaced.find("does not hold memvisor's agents/python"), std::string::npos) << replaced;
  const std::string cleared = agent_absent_reasons(RuntimeKind::python, {"python3", "app.py"},
                                                   environ_of({"HOME=/root"}), kAgentsIn);
  EXPECT_NE(cleared.find("no PYTHONPATH"), std::string::npos) << cleared;
}

TEST(AgentProtocol, RubyWithoutRubyoptIsNamed) {
  const std::string env =
      environ_of({"RUBYOPT=-W0 -r/opt/memvisor/agents/ruby/memvisor_heap_agent.rb"});
  const std::string disabled = agent_absent_reasons(
      RuntimeKind::ruby, {"ruby", "--disable=gems,rubyopt", "app.rb"}, env, kRubyAgentsIn);
  EXPECT_NE(disabled.find("--disable=rubyopt"), std::string::npos) << disabled;
  // --disable-gems keeps RUBYOPT: not a reason.
  const std::string gems = agent_absent_reasons(
      RuntimeKind::ruby, {"ruby", "--disable-gems", "app.rb"}, env, kRubyAgentsIn);
  EXPECT_EQ(gems.find("--disable"), std::string::npos) << gems;
  EXPECT_NE(gems.find("started before heap_sampler"), std::string::npos) << gems;
  const std::string replaced =
      agent_absent_reasons(RuntimeKind::ruby, {"ruby", "app.rb"},
                           environ_of({"RUBYOPT=-rbundler/setup"}), kRubyAgentsIn);
  EXPECT_NE(replaced.find("RUBYOPT does not -r memvisor's agent"), std::string::npos) << replaced;
}

}  // namespace
}  // namespace memvisor

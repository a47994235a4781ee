// What /proc says about a Node process before it is signalled, on a status file captured from
// a real Node 20 (its SIGUSR1 handler installed) and on edited copies of it.
#include "runtimes/node/node_process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "core/test_fixtures.h"

namespace memvisor::nodejs {
namespace {

std::string captured_status() {
  std::ifstream in(fixture_path("runtimes/node/proc_status_node"));
  EXPECT_TRUE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string with_line(std::string status, const std::string& name, const std::string& value) {
  const size_t at = status.find(name + ":");
  const size_t end = status.find('\n', at);
  return status.replace(at, end - at, name + ":\t" + value);
}

TEST(NodeProcess, NodeCatchesSigusr1) {
  const auto usr1 = parse_signal_disposition(captured_status(), SIGUSR1);
  ASSERT_TRUE(usr1);
  EXPECT_TRUE(usr1->caught);
  EXPECT_FALSE(usr1->ignored);
  EXPECT_FALSE(usr1->blocked);
  // Node ignores SIGPIPE.
  const auto pipe = parse_signal_disposition(captured_status(), SIGPIPE);
  ASSERT_TRUE(pipe);
  EXPECT_TRUE(pipe->ignored);
  EXPECT_EQ(parse_process_state(captured_status()), 'S');
}

TEST(NodeProcess, WithoutAHandlerOrIgnored) {
  const std::string none = with_line(captured_status(), "SigCgt", "0000000100004402");
  EXPECT_FALSE(parse_signal_disposition(none, SIGUSR1)->caught);
  const std::string ignored = with_line(captured_status(), "SigIgn", "0000000001001200");
  EXPECT_TRUE(parse_signal_disposition(ignored, SIGUSR1)->ignored);
  EXPECT_FALSE(parse_signal_disposition("Name:\tnode\n", SIGUSR1));
  EXPECT_FALSE(parse_signal_disposition(captured_status(), 0));
  EXPECT_EQ(parse_process_state(with_line(captured_status(), "State", "Z (zombie)")), 'Z');
  EXPECT_EQ(parse_process_state(""), '?');
}

TEST(NodeProcess, OptionsFromTheCommandLineAndNodeOptions) {
  const auto argv =
      split_cmdline(std::string("node\0--max-old-space-size=256\0app.js\0--inspect\0", 41));
  ASSERT_EQ(argv.size(), 4u);
  // --inspect after the script is the app's own argument.
  auto options = node_options_of(argv, "");
  EXPECT_EQ(options, (std::vector<std::string>{"--max-old-space-size=256"}));
  EXPECT_FALSE(inspector_opened_at_start(options));
  options = node_options_of(argv, " --inspect-port=127.0.0.1:0  --inspect-publish-uid=http");
  EXPECT_TRUE(inspect_port_set(options));
  EXPECT_FALSE(inspector_opened_at_start(options));
  for (const char* flag :
       {"--inspect", "--inspect=9230", "--inspect-brk=0.0.0.0:1", "--inspect-wait"})
    EXPECT_TRUE(inspector_opened_at_start(node_options_of({"node", flag, "app.js"}, ""))) << flag;
  EXPECT_FALSE(inspector_opened_at_start(node_options_of({"node", "--inspector", "app.js"}, "")));
  EXPECT_FALSE(inspect_port_set(node_options_of({"node", "app.js"}, "")));
}

}  // namespace
}  // namespace memvisor::nodejs

// The listener finder on /proc text captured from a real Node process: an app listening on
// 127.0.0.1 and on ::, and its inspector opened by SIGUSR1 on 127.0.0.1.
#include "runtimes/proc_listeners.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

std::string node_fixture(const std::string& name) {
  std::ifstream in(fixture_path("runtimes/node/" + name));
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ProcListeners, ParsesOnlyListeningSocketsOfTcp) {
  const auto listeners = parse_proc_net_tcp(node_fixture("proc_net_tcp"), false);
  // Five lines in state 0A; the established and time-wait ones are not listeners.
  ASSERT_EQ(listeners.size(), 5u);
  EXPECT_EQ(listeners[0].address, "127.0.0.1");
  EXPECT_EQ(listeners[0].port, 0x943B);
  EXPECT_EQ(listeners[0].inode, 1724012u);
  EXPECT_FALSE(listeners[0].v6);
  EXPECT_EQ(listeners[4].address, "0.0.0.0");
  EXPECT_EQ(listeners[4].port, 2024);
}

TEST(ProcListeners, ParsesTcp6Wildcard) {
  const auto listeners = parse_proc_net_tcp(node_fixture("proc_net_tcp6"), true);
  ASSERT_EQ(listeners.size(), 1u);
  EXPECT_EQ(listeners[0].address, "::");
  EXPECT_EQ(listeners[0].port, 0x8899);
  EXPECT_EQ(listeners[0].inode, 1724011u);
  EXPECT_TRUE(listeners[0].v6);
  EXPECT_EQ(connect_address(listeners[0]), "::1");
  EXPECT_FALSE(is_loopback(listeners[0]));
}

TEST(ProcListeners, JoinsTheProcessSocketLinks) {
  std::set<uint64_t> held;
  std::istringstream links(node_fixture("proc_fd_links"));
  std::string fd, link;
  while (links >> fd >> link)
    if (const uint64_t inode = socket_inode_of_link(link)) held.insert(inode);
  EXPECT_EQ(held, (std::set<uint64_t>{1724010, 1724011, 1724012}));
  std::vector<uint16_t> ports;
  for (const bool v6 : {false, true})
    for (const auto& l :
         parse_proc_net_tcp(node_fixture(v6 ? "proc_net_tcp6" : "proc_net_tcp"), v6))
      if (held.count(l.inode)) ports.push_back(l.port);
  // The inspector (37947), the app's net server (45591) and its HTTP server on :: (34969).
  EXPECT_EQ(ports, (std::vector<uint16_t>{37947, 45591, 34969}));
}

TEST(ProcListeners, SocketInodeOfLink) {
  EXPECT_EQ(socket_inode_of_link("socket:[1724010]"), 1724010u);
  EXPECT_EQ(socket_inode_of_link("pipe:[1723967]"), 0u);
  EXPECT_EQ(socket_inode_of_link("socket:[12x]"), 0u);
  EXPECT_EQ(socket_inode_of_link("socket:["), 0u);
  EXPECT_EQ(socket_inode_of_link("/dev/null"), 0u);
}

TEST(ProcListeners, MalformedLinesAreSkipped) {
  const std::string text =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
      "inode\n"
      "   0: 0100007F:ZZZZ 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1\n"
      "   1: 0100007:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 6 1\n"
      "   2: 0100007F:0050 00000000:0000 0A\n"
      "   3: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 0 1\n"
      "   4: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 7 1";
  const auto listeners = parse_proc_net_tcp(text, false);
  ASSERT_EQ(listeners.size(), 1u);  // the last line, without a newline
  EXPECT_EQ(listeners[0].port, 80);
  EXPECT_EQ(listeners[0].inode, 7u);
  EXPECT_TRUE(is_loopback(listeners[0]));
  EXPECT_TRUE(parse_proc_net_tcp("", false).empty());
}

TEST(ProcListeners, ReadsTheListenersOfThisProcess) {
  auto listeners = process_listeners(getpid(), "/proc");
  ASSERT_TRUE(listeners.ok()) << listeners.error().describe();
  auto missing = process_listeners(-5, "/proc");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace memvisor

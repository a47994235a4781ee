// The children file as the kernel writes it: "PID PID " with a trailing space, or nothing.
#include "core/proc/children_list.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

std::vector<int> children_parsed(std::string_view text) {
  std::vector<int> out;
  parse_children_list(text, out);
  return out;
}

TEST(ChildrenList, AsTheKernelWritesIt) {
  EXPECT_EQ(children_parsed("16643 16644 16645 16646 "),
            (std::vector<int>{16643, 16644, 16645, 16646}));
  EXPECT_EQ(children_parsed(""), std::vector<int>{});
  EXPECT_EQ(children_parsed("7"), std::vector<int>{7});
  EXPECT_EQ(children_parsed("7\n"), std::vector<int>{7});
}

TEST(ChildrenList, AppendsAcrossThreads) {
  std::vector<int> out{1};
  parse_children_list("2 3 ", out);
  parse_children_list("4 ", out);
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3, 4}));
}

TEST(ChildrenList, StopsAtGarbage) {
  EXPECT_EQ(children_parsed("5 x 6"), std::vector<int>{5});
  EXPECT_EQ(children_parsed("-3 4"), std::vector<int>{});
  EXPECT_EQ(children_parsed("0 4"), std::vector<int>{});
  EXPECT_EQ(children_parsed("99999999999999 4"), std::vector<int>{});
}

}  // namespace
}  // namespace memvisor

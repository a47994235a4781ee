// WriteOutage: one message per outage, the count of what it dropped, and the cause in words.
#include "core/observe/write_outage.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(WriteOutage, OneMessageThenOneSummary) {
  WriteOutage outage("events.jsonl", "lines");
  EXPECT_FALSE(outage.succeeded());  // no outage: nothing to say
  auto first = outage.failed(Error{"append to events.jsonl", ENOSPC});
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("events.jsonl: cannot write"), std::string::npos) << *first;
  EXPECT_NE(first->find("No space left on device"), std::string::npos) << *first;
  for (int i = 1; i < 1234; ++i) EXPECT_FALSE(outage.failed(Error{"append", ENOSPC}));
  EXPECT_TRUE(outage.in_outage());
  auto summary = outage.succeeded();
  ASSERT_TRUE(summary);
  EXPECT_EQ(*summary, "events.jsonl: 1234 lines dropped while the disk was full; writing again");
  EXPECT_FALSE(outage.succeeded());
  EXPECT_FALSE(outage.in_outage());
}

TEST(WriteOutage, ASecondOutageIsToldAgainWithItsOwnCause) {
  WriteOutage outage("web.1's log", "lines");
  ASSERT_TRUE(outage.record(Error{"append", EROFS}));
  auto summary = outage.record(Status{});
  ASSERT_TRUE(summary);
  EXPECT_EQ(*summary,
            "web.1's log: 1 line dropped while the file system was read-only; writing again");
  EXPECT_TRUE(outage.record(Error{"append", EIO}));
  EXPECT_NE(outage.succeeded()->find("while it could not be written"), std::string::npos);
}

}  // namespace
}  // namespace memvisor

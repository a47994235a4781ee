// A worker's status text: control characters replaced, UTF-8 kept whole, cut at the bound.
#include "core/protocol/status_text.h"

#include <gtest/gtest.h>

#include "core/protocol/notify_protocol.h"
#include "core/protocol/worker_message.h"

namespace memvisor {
namespace {

TEST(StatusText, ControlCharactersCannotReachATerminal) {
  EXPECT_EQ(status_text("serving 12 requests"), "serving 12 requests");
  EXPECT_EQ(status_text("\x1b[31mred\x1b[0m"), "?[31mred?[0m");
  EXPECT_EQ(status_text("a\tb\nc\rd\x7f"), "a?b?c?d?");
  EXPECT_EQ(status_text("\x1b]0;pwned\x07"), "?]0;pwned?");
  // C1 controls in UTF-8 (U+009B is an 8-bit CSI); other characters stay.
  EXPECT_EQ(status_text("x\xc2\x9b"
                        "2Jy"),
            "x?2Jy");
  EXPECT_EQ(status_text("caf\xc3\xa9 \xe2\x9c\x93 \xc2\xa0"), "caf\xc3\xa9 \xe2\x9c\x93 \xc2\xa0");
  // Cut at the bound without halving a sequence.
  EXPECT_EQ(status_text("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
}

TEST(StatusText, BothProtocolsKeepTheCleanText) {
  const NotifyFields fields = parse_notify_message("READY=1\nSTATUS=\x1b[2Jhello");
  ASSERT_TRUE(fields.status.has_value());
  EXPECT_EQ(*fields.status, "?[2Jhello");
  const WorkerMessage message =
      parse_worker_message(R"({"type":"status","text":"\u001b]0;title\u0007ok"})");
  EXPECT_EQ(message.kind, WorkerMessage::Kind::status);
  EXPECT_EQ(message.text, "?]0;title?ok");
}

}  // namespace
}  // namespace memvisor

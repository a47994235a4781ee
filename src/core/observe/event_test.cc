#include "core/observe/event.h"

#include <gtest/gtest.h>

#include "core/lifecycle/exit_status.h"
#include "core/protocol/line_splitter.h"
#include "core/protocol/notify_protocol.h"

namespace memvisor {
namespace {

TEST(Event, JsonCarriesTheRequiredFieldsAndExtras) {
  Event event;
  event.ts = from_unix_seconds(1700000000.25);
  event.event = "exited";
  event.service = "web";
  event.instance = 2;
  event.pid = 4242;
  event.reason = "crash";
  event.extra["code"] = 3;
  const auto json = to_json(event);
  EXPECT_EQ(json["ts"], "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(json["event"], "exited");
  EXPECT_EQ(json["service"], "web");
  EXPECT_EQ(json["instance"], 2);
  EXPECT_EQ(json["pid"], 4242);
  EXPECT_EQ(json["reason"], "crash");
  EXPECT_EQ(json["code"], 3);
  const Event back = event_from_json(json);
  EXPECT_EQ(back.event, "exited");
  EXPECT_EQ(back.extra["code"], 3);
  EXPECT_FALSE(back.extra.contains("ts"));
}

TEST(Event, HumanLineNamesTheInstance) {
  Event event;
  event.service = "web";
  event.instance = 1;
  event.pid = 7;
  event.reason = "crash";
  event.message = "exited with code 1";
  EXPECT_EQ(human_line(event), "web.1: exited with code 1 (pid 7, reason crash)");
}

TEST(Event, HumanLineNamesAPreforkChild) {
  Event event;
  event.event = "recycle";
  event.service = "web";
  event.instance = 1;
  event.pid = 12345;
  event.reason = "limit";
  event.message = "recycling: SIGTERM to the child, its master replaces it";
  event.extra["child"] = 12345;
  EXPECT_EQ(human_line(event),
            "web.1/12345: recycling: SIGTERM to the child, its master replaces it (pid 12345, "
            "reason limit)");
  EXPECT_EQ(human_line(event_from_json(to_json(event))), human_line(event));
}

TEST(ExitStatus, Describes) {
  EXPECT_EQ((ExitStatus{false, 3, 0, false}).describe(), "exited with code 3");
  EXPECT_EQ((ExitStatus{true, 0, 9, false}).describe(), "killed by SIGKILL");
  EXPECT_EQ((ExitStatus{true, 0, 11, true}).describe(), "killed by SIGSEGV (core dumped)");
}

TEST(NotifyProtocol, ParsesAssignments) {
  const auto fields = parse_notify_message("READY=1\nSTATUS=serving 3 clients\nMAINPID=123\nX=1");
  EXPECT_TRUE(fields.ready);
  EXPECT_FALSE(fields.watchdog);
  EXPECT_EQ(fields.status, "serving 3 clients");
  EXPECT_EQ(fields.main_pid, 123);
  EXPECT_FALSE(parse_notify_message("MAINPID=12x").main_pid.has_value());
  EXPECT_TRUE(parse_notify_message("WATCHDOG=1").watchdog);
  EXPECT_TRUE(parse_notify_message("STOPPING=1\n").stopping);
}

TEST(LineSplitter, SplitsAcrossChunksAndBoundsLongLines) {
  LineSplitter splitter(4);
  std::vector<std::string> lines;
  auto sink = [&](std::string_view line) { lines.emplace_back(line); };
  splitter.feed("ab", sink);
  splitter.feed("c\nd", sink);
  splitter.feed("efghij", sink);
  splitter.flush(sink);
  EXPECT_EQ(lines, (std::vector<std::string>{"abc", "defg", "hij"}));
}

}  // namespace
}  // namespace memvisor

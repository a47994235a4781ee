// parse_worker_message: each line kind, and every check on the worker's input (the fuzz target
// fuzz/worker_message_fuzz.cc asserts the same promises on arbitrary bytes).
#include "core/protocol/worker_message.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

using Kind = WorkerMessage::Kind;

TEST(WorkerMessage, ReadsEachKind) {
  EXPECT_EQ(parse_worker_message(R"({"type":"hello","pid":1})").kind, Kind::hello);
  EXPECT_EQ(parse_worker_message(R"({"type":"ready"})").kind, Kind::ready);
  auto status = parse_worker_message(R"({"type":"status","text":"serving"})");
  EXPECT_EQ(status.kind, Kind::status);
  EXPECT_EQ(status.text, "serving");
  auto requests = parse_worker_message(R"({"type":"requests","total":42})");
  EXPECT_EQ(requests.kind, Kind::requests);
  EXPECT_EQ(requests.total, 42);
  auto gauge = parse_worker_message(R"({"type":"gauge","name":"heap_used","value":1.5})");
  EXPECT_EQ(gauge.kind, Kind::gauge);
  EXPECT_EQ(gauge.text, "heap_used");
  EXPECT_EQ(gauge.value, 1.5);
  auto reply = parse_worker_message(R"({"type":"reply","id":7,"stacks":"x"})");
  EXPECT_EQ(reply.kind, Kind::reply);
  EXPECT_EQ(reply.id, 7);
  EXPECT_EQ(reply.reply["stacks"], "x");
}

TEST(WorkerMessage, RefusesWhatItCannotBelieve) {
  for (const char* line : {"", "not json", "[1,2]", R"({"no":"type"})", R"({"type":3})"}) {
    EXPECT_EQ(parse_worker_message(line).kind, Kind::error) << line;
  }
  EXPECT_EQ(parse_worker_message(R"({"type":"bogus"})").text, "unknown message type 'bogus'");
  EXPECT_EQ(parse_worker_message(R"({"type":"status"})").kind, Kind::error);
  EXPECT_EQ(parse_worker_message(R"({"type":"requests","total":-1})").kind, Kind::error);
  // Past INT64_MAX: an unsigned in JSON, negative as int64_t, refused.
  EXPECT_EQ(parse_worker_message(R"({"type":"requests","total":18446744073709551615})").kind,
            Kind::error);
  EXPECT_EQ(parse_worker_message(R"({"type":"requests","total":1.5})").kind, Kind::error);
  // Too large for a double: refused, whether the JSON parser or the finiteness check does it.
  EXPECT_NE(parse_worker_message(R"({"type":"gauge","name":"g","value":1e400})").kind, Kind::gauge);
  EXPECT_EQ(parse_worker_message(R"({"type":"gauge","name":"9g","value":1})").kind,
            Kind::gauge_error);
  EXPECT_EQ(parse_worker_message(R"({"type":"gauge","name":"g","value":"1"})").kind,
            Kind::gauge_error);
  EXPECT_EQ(parse_worker_message(R"({"type":"reply","id":"7"})").kind, Kind::ignored);
}

TEST(WorkerMessage, StatusIsCutAtAWholeUtf8Sequence) {
  std::string text(WorkerMessage::kMaxStatus - 1, 'a');
  text += "\xc3\xa9";  // é across the limit
  const auto status =
      parse_worker_message(nlohmann::json{{"type", "status"}, {"text", text}}.dump());
  ASSERT_EQ(status.kind, Kind::status);
  EXPECT_EQ(status.text, std::string(WorkerMessage::kMaxStatus - 1, 'a'));
}

}  // namespace
}  // namespace memvisor

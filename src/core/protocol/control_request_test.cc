// The control request parser: every command's fields, every error, and a deterministic stream of
// random and mutated inputs (the same function is fuzzed with libFuzzer when clang is present).
#include "core/protocol/control_request.h"

#include <gtest/gtest.h>

#include <random>

namespace memvisor {
namespace {

ControlRequest ok(std::string_view line) {
  auto parsed = parse_control_request(line);
  EXPECT_TRUE(std::holds_alternative<ControlRequest>(parsed)) << line;
  return std::holds_alternative<ControlRequest>(parsed) ? std::get<ControlRequest>(parsed)
                                                        : ControlRequest{};
}

ControlError error(std::string_view line) {
  auto parsed = parse_control_request(line);
  EXPECT_TRUE(std::holds_alternative<ControlError>(parsed)) << line;
  return std::holds_alternative<ControlError>(parsed) ? std::get<ControlError>(parsed)
                                                      : ControlError{};
}

TEST(ControlRequest, Commands) {
  EXPECT_EQ(ok(R"({"cmd":"status"})").command, ControlCommand::status);
  EXPECT_EQ(ok(R"({"id":7,"cmd":"ping"})").id, 7);
  EXPECT_EQ(ok(R"({"id":"a","cmd":"ping"})").id, "a");
  const auto restart = ok(R"({"cmd":"restart","target":"web.2"})");
  EXPECT_EQ(restart.target.service, "web");
  EXPECT_EQ(restart.target.instance, 2);
  EXPECT_EQ(ok(R"({"cmd":"stop","target":"web"})").target.instance, 0);
  EXPECT_EQ(ok(R"({"cmd":"start","target":"my.app"})").target.service, "my.app");
  EXPECT_EQ(ok(R"({"cmd":"dump","target":"web.1"})").command, ControlCommand::dump);
  const auto child = ok(R"({"cmd":"dump","target":"web.1/4242"})");  // a pre-fork child
  EXPECT_EQ(child.target.service, "web");
  EXPECT_EQ(child.target.instance, 1);
  EXPECT_EQ(child.target.child, 4242);
  EXPECT_EQ(ok(R"({"cmd":"incidents"})").command, ControlCommand::incidents);
  EXPECT_EQ(ok(R"({"cmd":"incident","incident":"20261122-193012-web.1-leak"})").incident,
            "20261122-193012-web.1-leak");
  // Unknown fields are ignored, so newer clients work with older daemons.
  EXPECT_EQ(ok(R"({"cmd":"ping","future":[1,2]})").command, ControlCommand::ping);
}

TEST(ControlRequest, Errors) {
  EXPECT_EQ(error("not json").code, "malformed");
  EXPECT_EQ(error("[1,2]").code, "malformed");
  EXPECT_EQ(error("").code, "malformed");
  EXPECT_EQ(error(R"({"id":1})").code, "bad_request");
  EXPECT_EQ(error(R"({"id":1})").id, 1);
  EXPECT_EQ(error(R"({"id":1})").message, "missing \"cmd\"");
  // Present but no string: said so (it said "missing").
  EXPECT_EQ(error(R"({"cmd":5})").message, "\"cmd\" must be a string, e.g. \"status\"");
  EXPECT_EQ(error(R"({"id":{},"cmd":"ping"})").code, "bad_request");
  const auto unknown = error(R"({"id":7,"cmd":"launch-missiles"})");
  EXPECT_EQ(unknown.code, "unknown_command");
  EXPECT_EQ(unknown.message, "unknown command 'launch-missiles'");
  EXPECT_EQ(error(R"({"cmd":"restart"})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"restart","target":""})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"dump","target":"web"})").message,
            "dump needs one instance: SERVICE.N");
  EXPECT_EQ(error(R"({"cmd":"restart","target":"web.1/77"})").message,
            "restart takes SERVICE or SERVICE.N, not a pre-fork child");
  EXPECT_EQ(error(R"({"cmd":"dump","target":"web/77"})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"incident"})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"incident","incident":"../../etc"})").code, "not_found");
  const auto reply = error_reply(error(R"({"id":"x","cmd":"nope"})"));
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["id"], "x");
  EXPECT_EQ(reply["code"], "unknown_command");
}

TEST(ControlRequest, SeriesTargetAndPointsAreOptional) {
  const auto all = ok(R"({"cmd":"series"})");
  EXPECT_EQ(all.command, ControlCommand::series);
  EXPECT_TRUE(all.target.service.empty());
  EXPECT_EQ(all.points, 120);
  const auto one = ok(R"({"cmd":"series","target":"web.1","points":30})");
  EXPECT_EQ(one.target.service, "web");
  EXPECT_EQ(one.target.instance, 1);
  EXPECT_EQ(one.points, 30);
  EXPECT_EQ(ok(R"({"cmd":"series","target":"web.1/99"})").target.child, 99);
  EXPECT_EQ(error(R"({"cmd":"series","points":0})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"series","points":8641})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"series","points":"10"})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"series","target":7})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"series","target":""})").code, "bad_request");
  EXPECT_EQ(error(R"({"cmd":"series","target":"web.1/x"})").code, "bad_request");
}

TEST(ControlRequest, LongUnknownNamesAreCutAndRepliesAreValidUtf8) {
  const std::string name(100, 'x');
  const auto err = error(R"({"cmd":")" + name + "\"}");
  EXPECT_LT(err.message.size(), 100u);
  // Cutting "é" (two bytes) in half must not make the reply unserializable.
  std::string accents;
  for (int i = 0; i < 40; ++i) accents += "\xc3\xa9";
  const std::string line = reply_line(error_reply(error(R"({"cmd":")" + accents + "\"}")));
  EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
}

// Random bytes, and valid requests with random bytes flipped, inserted or cut: the parser must
// answer every one (a request or an error) and the reply must serialize.
TEST(ControlRequest, RandomInputNeverThrows) {
  std::mt19937 random(12345);
  const std::vector<std::string> seeds{
      R"({"id":1,"cmd":"status"})", R"({"id":"x","cmd":"restart","target":"web.1"})",
      R"({"cmd":"incident","incident":"20261122-193012-a.1-leak"})",
      R"({"cmd":"dump","target":"w.1","x":[{"a":null}]})"};
  size_t requests = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    if (round % 2 == 0) {
      input.resize(random() % 200);
      for (char& c : input) c = static_cast<char>(random() % 256);
    } else {
      input = seeds[random() % seeds.size()];
      for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits) {
        const size_t at = random() % (input.size() + 1);
        switch (random() % 3) {
          case 0:
            if (at < input.size()) input[at] = static_cast<char>(random() % 256);
            break;
          case 1:
            input.insert(at, 1, static_cast<char>(random() % 256));
            break;
          default:
            input.erase(at, random() % 8);
        }
      }
    }
    const auto parsed = parse_control_request(input);
    if (std::holds_alternative<ControlRequest>(parsed)) {
      ++requests;
    } else {
      EXPECT_FALSE(reply_line(error_reply(std::get<ControlError>(parsed))).empty());
    }
  }
  EXPECT_GT(requests, 0u);  // some mutations still are valid requests: the valid path is covered
}

}  // namespace
}  // namespace memvisor

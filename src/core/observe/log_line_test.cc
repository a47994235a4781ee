#include "core/observe/log_line.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

const WallTime kTime = from_unix_seconds(1700000000.25);

Event event_named(const std::string& name, const std::string& reason = "") {
  Event event;
  event.ts = kTime;
  event.event = name;
  event.service = "web";
  event.instance = 1;
  event.pid = 42;
  event.reason = reason;
  return event;
}

TEST(LogLine, ParsesTheTwoFormatsAndNothingElse) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_FALSE(parse_log_format("JSON"));
  EXPECT_FALSE(parse_log_format(""));
  EXPECT_FALSE(parse_log_format("logfmt"));
}

TEST(LogLine, EventLevelsFollowTheDocumentedTable) {
  EXPECT_EQ(event_level(event_named("exited", "crash")), LogLevel::error);
  EXPECT_EQ(event_level(event_named("exited", "recycle")), LogLevel::info);
  EXPECT_EQ(event_level(event_named("exited", "exit")), LogLevel::notice);
  EXPECT_EQ(event_level(event_named("watchdog_timeout", "watchdog")), LogLevel::error);
  EXPECT_EQ(event_level(event_named("circuit_open", "crash")), LogLevel::error);
  EXPECT_EQ(event_level(event_named("supervisor_exited", "crash")), LogLevel::error);
  EXPECT_EQ(event_level(event_named("supervisor_exited", "shutdown")), LogLevel::info);
  EXPECT_EQ(event_level(event_named("supervisor_exited", "hang")), LogLevel::error);
  EXPECT_EQ(event_level(event_named("supervisor_hung", "hang")), LogLevel::error);
  EXPECT_EQ(event_level(event_named("recycle", "limit")), LogLevel::warning);
  EXPECT_EQ(event_level(event_named("backoff", "crash")), LogLevel::warning);
  EXPECT_EQ(event_level(event_named("memvisor_started")), LogLevel::notice);
  EXPECT_EQ(event_level(event_named("reload_failed", "SIGHUP")), LogLevel::error);
  EXPECT_EQ(event_level(event_named("reload", "rules")), LogLevel::notice);
  EXPECT_EQ(event_level(event_named("reloaded", "SIGHUP")), LogLevel::notice);
  EXPECT_EQ(event_level(event_named("started", "initial")), LogLevel::info);
  EXPECT_EQ(event_level(event_named("ready")), LogLevel::info);
  EXPECT_EQ(event_level(event_named("something_new")), LogLevel::info);

  Event rule = event_named("rule", "leak");
  rule.extra["action"] = "recycle";
  EXPECT_EQ(event_level(rule), LogLevel::warning);
  rule.extra["action"] = "critical";
  EXPECT_EQ(event_level(rule), LogLevel::error);

  Event incident = event_named("incident", "leak");
  EXPECT_EQ(event_level(incident), LogLevel::error);  // no bundle written
  incident.extra["path"] = "/run/memvisor/incidents/x";
  EXPECT_EQ(event_level(incident), LogLevel::warning);
}

TEST(LogLine, JournalStreamMatchesOnlyTheSameDeviceAndInode) {
  EXPECT_TRUE(journal_stream_matches("8:12345", 8, 12345));
  EXPECT_FALSE(journal_stream_matches("8:12345", 8, 12346));
  EXPECT_FALSE(journal_stream_matches("9:12345", 8, 12345));
  EXPECT_FALSE(journal_stream_matches("", 0, 0));
  EXPECT_FALSE(journal_stream_matches(":", 0, 0));
  EXPECT_FALSE(journal_stream_matches("8:", 8, 0));
  EXPECT_FALSE(journal_stream_matches("8:12345x", 8, 12345));
  EXPECT_FALSE(journal_stream_matches("-8:12345", 8, 12345));
  EXPECT_TRUE(journal_stream_matches("18446744073709551615:1", UINT64_MAX, 1));
}

TEST(LogLine, TextEventIsTheHumanLineWithThePriorityOnlyForTheJournal) {
  Event event = event_named("exited", "crash");
  event.message = "exited with code 1";
  EXPECT_EQ(format_event_line(event, {LogFormat::text, false}),
            "memvisor: web.1: exited with code 1 (pid 42, reason crash)\n");
  EXPECT_EQ(format_event_line(event, {LogFormat::text, true}),
            "<3>memvisor: web.1: exited with code 1 (pid 42, reason crash)\n");
  EXPECT_EQ(
      format_event_line(event_named("started", "initial"), {LogFormat::text, true}).substr(0, 3),
      "<6>");
}

TEST(LogLine, JsonEventIsOneObjectWithTheLevelAndEveryField) {
  Event event = event_named("recycle", "limit");
  event.message = "recycling";
  event.extra["generation"] = 3;
  const std::string line = format_event_line(event, {LogFormat::json, false});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["ts"], "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(json["level"], "warning");
  EXPECT_EQ(json["event"], "recycle");
  EXPECT_EQ(json["service"], "web");
  EXPECT_EQ(json["instance"], 1);
  EXPECT_EQ(json["pid"], 42);
  EXPECT_EQ(json["reason"], "limit");
  EXPECT_EQ(json["message"], "recycling");
  EXPECT_EQ(json["generation"], 3);
  // ts first, then level: a reader skimming the raw lines sees when and how bad.
  EXPECT_EQ(line.rfind("{\"ts\":", 0), 0U);

  const std::string journal = format_event_line(event, {LogFormat::json, true});
  EXPECT_EQ(journal, "<4>" + line);
}

TEST(LogLine, MessagesWithNewlinesAreSeveralPrefixedLinesInTextAndOneInJson) {
  EXPECT_EQ(format_message_line(LogLevel::warning, "a\nb", kTime, {LogFormat::text, true}),
            "<4>memvisor: a\n<4>b\n");
  EXPECT_EQ(format_message_line(LogLevel::warning, "a\nb", kTime, {LogFormat::text, false}),
            "memvisor: a\nb\n");
  const std::string json =
      format_message_line(LogLevel::error, "a\nb", kTime, {LogFormat::json, false});
  EXPECT_EQ(json.find('\n'), json.size() - 1);
  const auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed,
            nlohmann::json(
                {{"ts", "2023-11-14T22:13:20.250Z"}, {"level", "error"}, {"message", "a\nb"}}));
}

TEST(LogLine, WorkerLinesKeepTheirLabelAndAreInfoUnlessTheyCarryTheirOwnPriority) {
  EXPECT_EQ(format_output_line("web.1", true, "hello", kTime, {LogFormat::text, false}),
            "web.1 | hello\n");
  EXPECT_EQ(format_output_line("web.1", true, "hello", kTime, {LogFormat::text, true}),
            "<6>web.1 | hello\n");
  EXPECT_EQ(format_output_line("web.1", false, "<3>disk full", kTime, {LogFormat::text, true}),
            "<3>web.1 | disk full\n");
  // Not the journal: the worker's bytes are relayed as they are.
  EXPECT_EQ(format_output_line("web.1", false, "<3>disk full", kTime, {LogFormat::text, false}),
            "web.1 | <3>disk full\n");
  EXPECT_EQ(format_output_line("web.1", false, "<9>x", kTime, {LogFormat::text, true}),
            "<6>web.1 | <9>x\n");
}

TEST(LogLine, JsonWorkerLinesSurviveInvalidUtf8) {
  const std::string line = format_output_line("web.2", false, std::string("caf\xC3", 4) + "\xFF",
                                              kTime, {LogFormat::json, false});
  const auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["source"], "web.2");
  EXPECT_EQ(json["stream"], "stdout");
  EXPECT_EQ(json["ts"], "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(json["line"].get<std::string>().substr(0, 3), "caf");
  EXPECT_EQ(json.size(), 4U);
  EXPECT_EQ(nlohmann::json::parse(
                format_output_line("web.2", true, "x", kTime, {LogFormat::json, false}))["stream"],
            "stderr");
}

}  // namespace
}  // namespace memvisor

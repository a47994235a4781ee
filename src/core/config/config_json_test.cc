// The JSON hand-off: every field survives a round trip through text, and bad JSON is refused.
#include "core/config/config_json.h"

#include <gtest/gtest.h>

#include <functional>

#include "core/config/config_parse.h"

namespace memvisor {
namespace {

using nlohmann::json;

void expect_same(const ServiceConfig& a, const ServiceConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.command, b.command);
  EXPECT_EQ(a.instances, b.instances);
  EXPECT_EQ(a.env, b.env);
  EXPECT_EQ(a.cwd, b.cwd);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.restart, b.restart);
  EXPECT_EQ(a.restart_delay, b.restart_delay);
  EXPECT_EQ(a.restart_backoff, b.restart_backoff);  // exactly: no rounding allowed
  EXPECT_EQ(a.restart_delay_max, b.restart_delay_max);
  EXPECT_EQ(a.min_uptime, b.min_uptime);
  EXPECT_EQ(a.circuit_failures, b.circuit_failures);
  EXPECT_EQ(a.circuit_cooldown, b.circuit_cooldown);
  EXPECT_EQ(a.stop_signal, b.stop_signal);
  EXPECT_EQ(a.prefork, b.prefork);
  EXPECT_EQ(a.prefork_signal, b.prefork_signal);
  EXPECT_EQ(a.prefork_timeout, b.prefork_timeout);
  EXPECT_EQ(a.stop_timeout, b.stop_timeout);
  EXPECT_EQ(a.kill_timeout, b.kill_timeout);
  EXPECT_EQ(a.ready, b.ready);
  EXPECT_EQ(a.startup_timeout, b.startup_timeout);
  EXPECT_EQ(a.watchdog, b.watchdog);
  EXPECT_EQ(a.output, b.output);
  EXPECT_EQ(a.log_dir, b.log_dir);
  EXPECT_EQ(a.heap_sampler, b.heap_sampler);
  EXPECT_EQ(a.heap_runtime, b.heap_runtime);
  EXPECT_EQ(a.pprof, b.pprof);
  EXPECT_EQ(a.cgroup, b.cgroup);
}

Config unusual_config() {
  Config config;
  config.source = "/etc/memvisor/web.toml";
  config.supervisor.state_dir = "/run/memvisor";
  config.supervisor.http = "[::1]:9464";
  ServiceConfig& s = config.services.emplace_back();
  s.name = "web";
  s.command = {"python3", "-c", "print('héllo \"x\"')", ""};
  s.instances = 1000;
  s.env = {{"A", ""}, {"B", "two words"}, {"C", "ünï\ncode"}};
  s.cwd = "/srv";
  s.user = "1000";
  s.restart = RestartPolicy::on_failure;
  s.restart_delay = Millis{1};
  s.restart_backoff = 1.1;  // not exact in binary
  s.restart_delay_max = Millis{315'360'000'000};
  s.min_uptime = Millis{0};
  s.circuit_failures = 2'147'483'647;
  s.circuit_cooldown = Millis{123'456'789};
  s.stop_signal = 40;  // no standard name
  s.stop_timeout = Millis{1};
  s.kill_timeout = Millis{2};
  s.ready = ReadyMode::notify;
  s.startup_timeout = Millis{3};
  s.watchdog = Millis{4};
  s.output = OutputMode::file;
  s.log_dir = "/var/log/x";
  s.memory.interval = Millis{3'600'000};
  s.memory.metric = MemoryMetric::cgroup;
  s.heap_sampler = true;
  s.heap_runtime = RuntimeKind::ruby;
  s.pprof = "http://[::1]:6060/debug";
  s.memory.tree = true;
  s.memory.warn = SizeRule{1, MemoryMetric::rss};
  s.memory.limit = LimitRule{18446744073709551615u, 1'000'000, std::nullopt};
  s.memory.total = SizeRule{1'000'000'007, std::nullopt};
  s.memory.leak = LeakRule{1, LeakAction::alert, Millis{3'600'000}, MemoryMetric::swap};
  s.memory.requests = RequestsRule{4'611'686'018'427'387'903, 4'611'686'018'427'387'903};
  s.memory.age = AgeRule{Millis{1}, Millis{0}};
  s.surge = false;
  s.prefork = true;
  s.prefork_signal = 41;  // no standard name
  s.prefork_timeout = Millis{5};
  s.cgroup = true;
  s.max_recycling = 1000;
  config.supervisor.total = SizeRule{uint64_t{1} << 40, MemoryMetric::anon};
  ServiceConfig& jobs = config.services.emplace_back();
  jobs.name = "jobs";
  jobs.command = {"/bin/sh", "-c", "run"};
  jobs.restart = RestartPolicy::never;
  jobs.stop_signal = SIGUSR1;
  return config;
}

Config round_trip(const Config& config) {
  auto back = config_from_json(json::parse(config_to_json(config).dump()));
  EXPECT_TRUE(back.ok()) << back.error().message;
  return back.ok() ? *back : Config{};
}

TEST(ConfigJson, RoundTripIsLossless) {
  Config config = unusual_config();
  Config back = round_trip(config);
  EXPECT_EQ(back.source, config.source);
  EXPECT_EQ(back.supervisor.state_dir, config.supervisor.state_dir);
  EXPECT_EQ(back.supervisor.http, config.supervisor.http);
  ASSERT_EQ(back.services.size(), 2u);
  expect_same(back.services[0], config.services[0]);
  expect_same(back.services[1], config.services[1]);
  EXPECT_EQ(config_to_json(back), config_to_json(config));
}

TEST(ConfigJson, RoundTripOfAParsedFile) {
  auto parsed = parse_config(
      "[service.b]\ncommand = [\"b\"]\n[service.a]\ncommand = \"a\"\n"
      "shell = true\nstop_signal = \"HUP\"\nrestart_backoff = 1.7\n",
      "web.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  Config back = round_trip(*parsed);
  ASSERT_EQ(back.services.size(), 2u);
  EXPECT_EQ(back.services[0].name, "b");
  expect_same(back.services[1], parsed->services[1]);
}

TEST(ConfigJson, Shape) {
  json j = config_to_json(unusual_config());
  const json& web = j["services"][0];
  EXPECT_EQ(j["source"], "/etc/memvisor/web.toml");
  EXPECT_EQ(j["supervisor"]["state_dir"], "/run/memvisor");
  EXPECT_EQ(web["restart"], "on-failure");
  EXPECT_EQ(web["ready"], "notify");
  EXPECT_EQ(web["output"], "file");
  EXPECT_EQ(web["stop_signal"], 40);
  EXPECT_EQ(j["services"][1]["stop_signal"], "SIGUSR1");
  EXPECT_EQ(web["restart_delay_max_ms"], 315'360'000'000);
  EXPECT_EQ(web["circuit_cooldown_ms"], 123'456'789);
  EXPECT_EQ(web["watchdog_ms"], 4);
  EXPECT_EQ(web.size(), 41u);
  EXPECT_EQ(web["log_max_size"], uint64_t{64} << 20);
  EXPECT_EQ(web["log_keep"], 3);
  EXPECT_EQ(j["supervisor"]["events_max_size"], uint64_t{64} << 20);
  EXPECT_EQ(j["supervisor"]["events_keep"], 3);
  EXPECT_EQ(web["monitors"], nlohmann::json::array());
  EXPECT_EQ(web["listen"], nlohmann::json::array());
  EXPECT_EQ(web["listen_mode"], 0666);
  EXPECT_EQ(web["prefork"], true);
  EXPECT_EQ(web["prefork_signal"], 41);  // no standard name: kept as a number
  EXPECT_EQ(web["prefork_timeout_ms"], 5);
  EXPECT_EQ(j["services"][1]["prefork_signal"], "SIGTERM");
  EXPECT_EQ(web["heap_sampler"], true);
  EXPECT_EQ(web["heap_runtime"], "ruby");
  EXPECT_EQ(web["pprof"], "http://[::1]:6060/debug");
  EXPECT_EQ(j["services"][1]["heap_runtime"], "");
  EXPECT_EQ(web["cgroup"], true);
  EXPECT_EQ(j["services"][1]["cgroup"], false);
  EXPECT_EQ(web["memory_max"], 0u);  // off unless set
  EXPECT_EQ(web["memory_max_auto"], false);
  EXPECT_EQ(web["surge"], false);
  EXPECT_EQ(web["max_recycling"], 1000);
  const json& memory = web["memory"];
  EXPECT_EQ(memory["interval_ms"], 3'600'000);
  EXPECT_EQ(memory["metric"], "cgroup");
  EXPECT_EQ(memory["warn"], json({{"size", 1}, {"metric", "rss"}}));
  EXPECT_EQ(memory["limit"]["size"], 18446744073709551615u);
  EXPECT_EQ(memory["limit"]["samples"], 1'000'000);
  EXPECT_EQ(memory["limit"]["metric"], nullptr);
  EXPECT_EQ(memory["critical"], nullptr);
  EXPECT_EQ(memory["leak"]["rate_bytes_per_hour"], 1);
  EXPECT_EQ(memory["leak"]["action"], "alert");
  EXPECT_EQ(memory["leak"]["sample_ms"], 3'600'000);
  EXPECT_EQ(memory["leak"]["warmup_ms"], 1'800'000);
  EXPECT_EQ(memory["age"], json({{"max_ms", 1}, {"jitter_ms", 0}}));
  EXPECT_EQ(j["supervisor"]["total"], json({{"size", 1ull << 40}, {"metric", "anon"}}));
  EXPECT_EQ(j["services"][1]["memory"]["requests"], nullptr);
}

std::string error_after(const std::function<void(json&)>& change) {
  json j = config_to_json(unusual_config());
  change(j);
  auto back = config_from_json(j);
  return back.ok() ? "accepted" : back.error().message;
}

TEST(ConfigJson, RefusesBadInput) {
  EXPECT_EQ(error_after([](json& j) { j = json::array(); }),
            "config: expected an object, got array");
  EXPECT_EQ(error_after([](json& j) { j.erase("source"); }), "config: missing key 'source'");
  EXPECT_EQ(error_after([](json& j) { j["extra"] = 1; }), "config: unknown key 'extra'");
  EXPECT_EQ(error_after([](json& j) { j["services"] = json::object(); }),
            "services: expected an array, got object");
  EXPECT_EQ(error_after([](json& j) { j["services"][1].erase("watchdog_ms"); }),
            "services[1]: missing key 'watchdog_ms'");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["instances"] = "2"; }),
            "services[0].instances: expected a 64-bit integer, got \"2\"");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["instances"] = 1.5; }),
            "services[0].instances: expected a 64-bit integer, got 1.5");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["circuit_failures"] = 1ll << 40; }),
            "services[0].circuit_failures: expected a 32-bit integer, got 1099511627776");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["stop_timeout_ms"] = UINT64_MAX; }),
            "services[0].stop_timeout_ms: expected a 64-bit integer, got 18446744073709551615");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["command"] = "app"; }),
            "services[0].command: expected an array, got string");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["command"][1] = 5; }),
            "services[0].command[1]: expected a string, got number");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["env"]["A"] = 5; }),
            "services[0].env.A: expected a string, got number");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["restart"] = "sometimes"; }),
            "services[0].restart: expected one of always, on-failure, never, got \"sometimes\"");
  EXPECT_EQ(error_after([](json& j) { j["services"][1]["stop_signal"] = "SIGFOO"; }),
            "services[1].stop_signal: expected a signal name, got \"SIGFOO\"");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["restart_backoff"] = nullptr; }),
            "services[0].restart_backoff: expected a number, got null");
}

TEST(ConfigJson, RefusesBadMemoryRules) {
  auto memory = [](json& j) -> json& { return j["services"][0]["memory"]; };
  EXPECT_EQ(error_after([&](json& j) { memory(j)["limit"].erase("samples"); }),
            "services[0].memory.limit: missing key 'samples'");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["leak"]["extra"] = 1; }),
            "services[0].memory.leak: unknown key 'extra'");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["leak"] = "10MiB/h"; }),
            "services[0].memory.leak: expected an object, got string");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["warn"]["size"] = -1; }),
            "services[0].memory.warn.size: expected an unsigned 64-bit integer, got -1");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["warn"]["size"] = "1GiB"; }),
            "services[0].memory.warn.size: expected an unsigned 64-bit integer, got \"1GiB\"");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["metric"] = "PSS"; }),
            "services[0].memory.metric: expected one of pss, rss, uss, anon, swap, cgroup, or "
            "gauge:NAME, got "
            "\"PSS\"");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["warn"]["metric"] = 1; }),
            "services[0].memory.warn.metric: expected one of pss, rss, uss, anon, swap, cgroup, "
            "or gauge:NAME, got 1");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["tree"] = 1; }),
            "services[0].memory.tree: expected a boolean, got number");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["surge"] = "yes"; }),
            "services[0].surge: expected a boolean, got string");
  EXPECT_EQ(error_after([](json& j) { j["services"][0].erase("memory"); }),
            "services[0]: missing key 'memory'");
  EXPECT_EQ(error_after([](json& j) { j["supervisor"]["total"] = json::object(); }),
            "supervisor.total: missing key 'size'");
}

TEST(ConfigJson, ValidatesTheMemoryRules) {
  auto memory = [](json& j) -> json& { return j["services"][0]["memory"]; };
  EXPECT_EQ(error_after([&](json& j) { memory(j)["interval_ms"] = 99; }),
            "service.web.interval: expected a duration of at least 100ms, got 99ms");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["limit"]["samples"] = 0; }),
            "service.web.limit.for: expected a positive integer, got 0");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["leak"]["rate_bytes_per_hour"] = 0; }),
            "service.web.leak.rate: expected a rate greater than 0, got 0B/h");
  EXPECT_EQ(
      error_after([&](json& j) { memory(j)["requests"]["jitter"] = -1; }),
      "service.web.requests.jitter: expected between 0 and max (4611686018427387903), got -1");
  EXPECT_EQ(error_after([&](json& j) { memory(j)["age"]["jitter_ms"] = 2; }),
            "service.web.age.jitter: expected a duration between 0 and max (1ms), got 2ms");
  EXPECT_EQ(error_after([&](json& j) {
              memory(j)["warn"]["size"] = 2;
              memory(j)["critical"] = {{"size", 1}, {"metric", "rss"}};
            }),
            "service.web.critical: expected at least warn (2B), got 1B");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["max_recycling"] = 0; }),
            "service.web.max_recycling: expected a positive integer, got 0");
  EXPECT_EQ(error_after([](json& j) { j["supervisor"]["total"]["size"] = 0; }),
            "supervisor.total.size: expected a size greater than 0, got 0B");
}

TEST(ConfigJson, ValidatesTheResult) {
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["instances"] = 0; }),
            "service.web.instances: expected a positive integer, got 0");
  EXPECT_EQ(error_after([](json& j) { j["services"][1]["name"] = "web"; }),
            "service.web: service defined twice");
  EXPECT_EQ(error_after([](json& j) { j["services"] = json::array(); }),
            "no services defined; add a [service.NAME] table");
  EXPECT_EQ(error_after([](json& j) { j["services"][0]["kill_timeout_ms"] = -1; }),
            "service.web.kill_timeout: expected a duration greater than 0, got -1ms");
}

}  // namespace
}  // namespace memvisor

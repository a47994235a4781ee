// FleetState from the controller's messages: restarts counted by reason from `started` events.
#include "supervisor/fleet_state.h"

#include <gtest/gtest.h>

#include "core/config/config_json.h"

namespace memvisor {
namespace {

nlohmann::json snapshot() {
  Config config;
  config.source = "test";
  ServiceConfig& web = config.services.emplace_back();
  web.name = "web";
  web.command = {"app"};
  web.instances = 2;
  return {{"type", "snapshot"},
          {"controller_pid", 1},
          {"config", config_to_json(config)},
          {"instances", nlohmann::json::array()}};
}

nlohmann::json started(int instance, int generation, const std::string& reason) {
  return {{"type", "event"},
          {"event", "started"},
          {"service", "web"},
          {"instance", instance},
          {"reason", reason},
          {"generation", generation},
          {"state",
           {{"service", "web"},
            {"instance", instance},
            {"generation", generation},
            {"pid", 100 + generation},
            {"state", "starting"}}}};
}

TEST(FleetState, RestartsByReasonCountEveryStartAfterTheFirst) {
  FleetState fleet;
  ASSERT_TRUE(fleet.apply(snapshot()));
  ASSERT_TRUE(fleet.apply(started(1, 1, "initial")));
  EXPECT_TRUE(fleet.restarts("web", 1).empty());
  ASSERT_TRUE(fleet.apply(started(1, 2, "crash")));
  ASSERT_TRUE(fleet.apply(started(1, 3, "crash")));
  ASSERT_TRUE(fleet.apply(started(1, 4, "leak")));
  ASSERT_TRUE(fleet.apply(started(2, 1, "initial")));
  const FleetState::RestartCounts expected = {{"crash", 2}, {"leak", 1}};
  EXPECT_EQ(fleet.restarts("web", 1), expected);
  EXPECT_TRUE(fleet.restarts("web", 2).empty());
  EXPECT_TRUE(fleet.restarts("nope", 1).empty());
}

TEST(FleetState, OtherEventsAreNotRestarts) {
  FleetState fleet;
  ASSERT_TRUE(fleet.apply(snapshot()));
  nlohmann::json exited = started(1, 2, "crash");
  exited["event"] = "exited";
  ASSERT_TRUE(fleet.apply(exited));
  EXPECT_TRUE(fleet.restarts("web", 1).empty());
}

TEST(FleetState, RecyclesAreTheRestartsThatReplacedALiveProcess) {
  FleetState fleet;
  ASSERT_TRUE(fleet.apply(snapshot()));
  ASSERT_TRUE(fleet.apply(started(1, 1, "initial")));
  ASSERT_TRUE(fleet.apply(started(1, 2, "crash")));  // after an exit: a restart only
  nlohmann::json surge = started(1, 3, "leak");      // a surge's replacement
  surge["state"]["role"] = "replacement";
  ASSERT_TRUE(fleet.apply(surge));
  nlohmann::json stop_first = started(1, 4, "limit");  // stop-first or urgent: still recycling
  stop_first["state"]["recycling"] = true;
  ASSERT_TRUE(fleet.apply(stop_first));
  const FleetState::RestartCounts restarts = {{"crash", 1}, {"leak", 1}, {"limit", 1}};
  const FleetState::RestartCounts recycles = {{"leak", 1}, {"limit", 1}};
  EXPECT_EQ(fleet.restarts("web", 1), restarts);
  EXPECT_EQ(fleet.recycles("web", 1), recycles);
  EXPECT_TRUE(fleet.recycles("web", 2).empty());
  EXPECT_TRUE(fleet.child_recycles("web", 1).empty());
}

TEST(FleetState, ChildRecyclesCountTheirRecycleEvents) {
  FleetState fleet;
  ASSERT_TRUE(fleet.apply(snapshot()));
  nlohmann::json recycle = started(1, 1, "leak");
  recycle["event"] = "recycle";
  recycle["child"] = 4242;
  ASSERT_TRUE(fleet.apply(recycle));
  ASSERT_TRUE(fleet.apply(recycle));
  recycle.erase("child");  // the instance's own recycle is counted at its replacement's start
  ASSERT_TRUE(fleet.apply(recycle));
  const FleetState::RestartCounts expected = {{"leak", 2}};
  EXPECT_EQ(fleet.child_recycles("web", 1), expected);
  EXPECT_TRUE(fleet.recycles("web", 1).empty());
}

TEST(FleetState, SupervisorRestartsComeFromTheSnapshot) {
  FleetState fleet;
  nlohmann::json message = snapshot();
  ASSERT_TRUE(fleet.apply(message));
  EXPECT_FALSE(fleet.supervisor_restarts().has_value());  // an older controller's snapshot
  message["supervisor_restarts"] = 3;
  ASSERT_TRUE(fleet.apply(message));
  EXPECT_EQ(fleet.supervisor_restarts(), 3u);
}

// A listening address a worker shut down for good: from the snapshot (a supervisor restarted
// after the loss) or from its event, until an event says it is restored.
TEST(FleetState, LostListensComeFromTheSnapshotAndTheirEvents) {
  FleetState fleet;
  nlohmann::json message = snapshot();
  message["lost_listens"] = {{"web", {"unix:/run/web.sock"}}};
  ASSERT_TRUE(fleet.apply(message));
  EXPECT_EQ(fleet.lost_listens("web"), std::vector<std::string>{"unix:/run/web.sock"});
  EXPECT_TRUE(fleet.lost_listens("other").empty());
  ASSERT_TRUE(fleet.apply({{"type", "event"},
                           {"event", "listen_restored"},
                           {"service", "web"},
                           {"address", "unix:/run/web.sock"}}));
  EXPECT_TRUE(fleet.lost_listens("web").empty());
  ASSERT_TRUE(fleet.apply({{"type", "event"},
                           {"event", "listen_lost"},
                           {"service", "web"},
                           {"address", "[::1]:8000"}}));
  EXPECT_EQ(fleet.lost_listens("web"), std::vector<std::string>{"[::1]:8000"});
}

nlohmann::json process_update(int generation, const std::string& state, const std::string& role) {
  return {{"type", "instance"},
          {"instance",
           {{"service", "web"},
            {"instance", 1},
            {"generation", generation},
            {"pid", 100 + generation},
            {"state", state},
            {"role", role}}}};
}

TEST(FleetState, AnInstanceServesThroughItsSurgeRecycle) {
  FleetState fleet;
  ASSERT_TRUE(fleet.apply(snapshot()));
  auto ready = [&] { return fleet.status(WallTime{})["services"][0]["ready"].get<int>(); };
  ASSERT_TRUE(fleet.apply(process_update(1, "running", "primary")));
  EXPECT_TRUE(fleet.serving("web", 1));
  EXPECT_EQ(ready(), 1);
  // The replacement starts: the old process still serves.
  ASSERT_TRUE(fleet.apply(process_update(2, "starting", "replacement")));
  EXPECT_EQ(ready(), 1);
  // The replacement is ready and the old one stops: the replacement serves.
  ASSERT_TRUE(fleet.apply(process_update(2, "running", "replacement")));
  ASSERT_TRUE(fleet.apply(process_update(1, "stopping", "primary")));
  EXPECT_TRUE(fleet.serving("web", 1));
  EXPECT_EQ(ready(), 1);
  // Both down: not serving.
  ASSERT_TRUE(fleet.apply(process_update(2, "stopping", "replacement")));
  EXPECT_FALSE(fleet.serving("web", 1));
  EXPECT_EQ(ready(), 0);
  EXPECT_FALSE(fleet.serving("web", 2));
}

// A replacement that could not start (its notify socket, an exec that failed) never took a
// generation of its own: its records, the last one "retired", must not touch the process it
// was to replace, which goes on running and being watched.
TEST(FleetState, AReplacementThatCouldNotStartLeavesTheOldProcessKnown) {
  FleetState fleet;
  ASSERT_TRUE(fleet.apply(snapshot()));
  ASSERT_TRUE(fleet.apply(process_update(6, "running", "primary")));
  nlohmann::json failed = process_update(6, "backoff", "replacement");
  failed["instance"]["pid"] = 0;
  ASSERT_TRUE(fleet.apply(failed));
  failed["instance"]["state"] = "retired";
  ASSERT_TRUE(fleet.apply(failed));
  ASSERT_EQ(fleet.processes("web").size(), 1u);
  EXPECT_EQ(fleet.processes("web")[0].pid, 106);
  EXPECT_TRUE(fleet.processes("web")[0].primary);
  EXPECT_EQ(fleet.processes("web")[0].state, "running");
  // The old process retiring still removes it.
  ASSERT_TRUE(fleet.apply(process_update(6, "retired", "primary")));
  EXPECT_TRUE(fleet.processes("web").empty());
}

}  // namespace
}  // namespace memvisor

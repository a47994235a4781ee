// The `series` control command: every measured unit's recent retained series (series_json.h),
// read from the memory watch as it stands; it costs the rules nothing but this copy.
#include <fmt/format.h>

#include <chrono>

#include "supervisor/series_json.h"
#include "supervisor/supervisor.h"

namespace memvisor {

// The parser (core/protocol) cannot see these; they must agree.
static_assert(kSeriesMaxPoints == MemoryWatch::kMaxSamples);
static_assert(kSeriesMaxPoints == kSeriesRequestMaxPoints);
static_assert(kSeriesDefaultPoints == kSeriesRequestDefaultPoints);

nlohmann::json Supervisor::series_reply(const ControlRequest& request) const {
  const ControlTarget& target = request.target;
  const size_t points = static_cast<size_t>(request.points);
  bool service_found = target.service.empty();
  nlohmann::json units = nlohmann::json::array();
  for (const ServiceConfig& service : fleet_.config().services) {
    if (!target.service.empty() && service.name != target.service) continue;
    service_found = true;
    for (const FleetProcess& process : fleet_.processes(service.name)) {
      if (target.instance != 0 && process.instance != target.instance) continue;
      const MemoryWatch::Key key{service.name, process.instance, process.generation};
      const ProcessRules* rules = memory_.rules(key);
      SeriesUnit unit{.service = service.name,
                      .instance = process.instance,
                      .generation = process.generation,
                      .child = 0,
                      .pid = process.pid,
                      .primary = process.primary,
                      .started_at_s = memory_.series_origin(MemoryWatch::unit_of(key)),
                      .samples = memory_.series(key),
                      .gauges = memory_.gauges(key),
                      .leak = rules != nullptr ? rules->leak_assessment() : nullptr};
      if (target.child == 0) units.push_back(series_json(service, unit, points));
      if (!service.prefork) continue;
      for (const MemoryWatch::Child& child : memory_.children(key)) {
        if (target.child != 0 && child.pid != target.child) continue;
        const auto child_key = MemoryWatch::unit_of(key, child.pid);
        const ProcessRules* child_rules = memory_.rules(child_key);
        SeriesUnit child_unit = unit;
        child_unit.child = child.pid;
        child_unit.pid = child.pid;
        child_unit.started_at_s = memory_.series_origin(child_key);
        child_unit.samples = memory_.series(child_key);
        child_unit.gauges = nullptr;
        child_unit.leak = child_rules != nullptr ? child_rules->leak_assessment() : nullptr;
        units.push_back(series_json(service, child_unit, points));
      }
    }
  }
  if (!service_found) {
    return nlohmann::json{
        {"ok", false}, {"code", "not_found"}, {"error", fleet_.no_service(target.service)}};
  }
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return nlohmann::json{{"ok", true}, {"now", now_s}, {"series", std::move(units)}};
}

}  // namespace memvisor

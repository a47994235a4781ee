#include "supervisor/incident_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>

#include "core/incident/memory_chart.h"
#include "core/proc/smaps_modules.h"
#include "os/files.h"

namespace memvisor {
namespace {

constexpr size_t kTopModules = 30;

Status fsync_directory(const std::string& path) {
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Error::from_errno("open " + path);
  if (::fsync(dir.get()) != 0) return Error::from_errno("fsync " + path);
  return {};
}

}  // namespace

ProcCapture capture_proc(pid_t pid, const std::string& proc_root) {
  const std::string proc = fmt::format("{}/{}", proc_root, pid);
  ProcCapture capture;
  if (auto cmdline = read_file(proc + "/cmdline")) {
    capture.cmdline = *cmdline;
    while (!capture.cmdline.empty() && capture.cmdline.back() == '\0') capture.cmdline.pop_back();
    for (char& c : capture.cmdline) c = c == '\0' ? ' ' : c;
  }
  auto status = read_file(proc + "/status");
  capture.status = status ? *status : "(unreadable: " + status.error().describe() + ")\n";
  auto smaps = read_file(proc + "/smaps");
  if (!smaps) {
    capture.smaps_top = "(unreadable: " + smaps.error().describe() + ")\n";
  } else if (auto modules = parse_smaps_by_module(*smaps)) {
    capture.smaps_top = fmt::format("mappings of pid {} grouped by module, largest RSS first\n\n{}",
                                    pid, format_smaps_top(*modules, kTopModules));
  } else {
    capture.smaps_top = "(" + proc + "/smaps could not be parsed)\n";
  }
  return capture;
}

BundleContent start_bundle(const RuleAction& action, WallTime time, const std::string& trigger,
                           std::optional<RuleDecision> decision, std::string what_next,
                           std::deque<TimedSample> samples, std::optional<MemoryRules> rules) {
  BundleContent content;
  IncidentFacts& facts = content.facts;
  facts.time = time;
  facts.trigger = trigger;
  facts.service = action.service;
  facts.instance = action.instance;
  facts.generation = action.generation;
  facts.pid = action.pid;
  facts.child = action.child;
  facts.id = incident_id(time, facts.service, facts.instance, trigger, facts.child);
  facts.decision = std::move(decision);
  facts.action = std::move(what_next);
  content.samples = std::move(samples);
  if (!content.samples.empty()) {
    facts.memory = content.samples.back().values;
    facts.uptime_s = content.samples.back().t_s;
  }
  content.rules = std::move(rules);
  content.proc = capture_proc(action.pid);
  facts.cmdline = content.proc.cmdline;
  return content;
}

nlohmann::json incident_event(const char* name, const IncidentFacts& facts) {
  nlohmann::json event = {
      {"event", name},       {"service", facts.service},       {"instance", facts.instance},
      {"pid", facts.pid},    {"generation", facts.generation}, {"reason", facts.trigger},
      {"incident", facts.id}};
  if (facts.child != 0) event["child"] = facts.child;
  return event;
}

Status copy_heap_sample(const std::string& bundle_dir, const std::optional<std::string>& report) {
  if (!report) return {};
  auto text = read_file(*report);
  if (!text) return text.error();
  return write_file_atomically(bundle_dir + "/heap_sample.json", *text, 0640);
}

Result<std::string> write_incident_bundle(const std::string& incidents_dir,
                                          BundleContent& content) {
  namespace fs = std::filesystem;
  if (Status made = make_directories(incidents_dir, 0750); !made) return made.error();
  const std::string base_id = content.facts.id;
  for (int n = 2; fs::exists(incidents_dir + "/" + content.facts.id); ++n) {
    content.facts.id = fmt::format("{}-{}", base_id, n);
  }
  const std::string final_dir = incidents_dir + "/" + content.facts.id;
  // Hidden, and named by our pid: never listed as a bundle, never shared with another writer.
  const std::string temp_dir =
      fmt::format("{}/.tmp-{}-{}", incidents_dir, content.facts.id, ::getpid());
  std::error_code ignored;
  fs::remove_all(temp_dir, ignored);
  if (::mkdir(temp_dir.c_str(), 0750) != 0) return Error::from_errno("mkdir " + temp_dir);

  content.facts.samples = content.samples.size();
  content.facts.files = {"summary.txt",   "incident.json", "memory.csv", "memory.svg",
                         "smaps_top.txt", "status.txt",    "stacks.txt"};
  Status heap = copy_heap_sample(temp_dir, content.heap_sample_path);
  if (content.heap_sample_path && heap) content.facts.files.push_back("heap_sample.json");
  if (!heap) content.facts.heap_sample = "none: " + heap.error().describe();

  const ChartInput chart =
      incident_chart(content.facts, content.samples, content.rules ? &*content.rules : nullptr);
  std::string status_text = content.proc.status;
  const std::pair<const char*, std::string> files[] = {
      {"summary.txt", incident_summary(content.facts)},
      {"incident.json", incident_json(content.facts).dump(2) + "\n"},
      {"memory.csv", memory_csv(content.samples, content.gauges)},
      {"memory.svg", render_memory_chart(chart)},
      {"smaps_top.txt", content.proc.smaps_top},
      {"status.txt", status_text},
      {"stacks.txt", content.stacks},
  };
  for (const auto& [name, text] : files) {
    if (Status s = write_file_atomically(temp_dir + "/" + name, text, 0640); !s) {
      fs::remove_all(temp_dir, ignored);
      return s.error();
    }
  }
  if (Status s = fsync_directory(temp_dir); !s) {
    fs::remove_all(temp_dir, ignored);
    return s.error();
  }
  if (::rename(temp_dir.c_str(), final_dir.c_str()) != 0) {
    Error error = Error::from_errno("rename " + temp_dir + " to " + final_dir);
    fs::remove_all(temp_dir, ignored);
    return error;
  }
  (void)fsync_directory(incidents_dir);
  return final_dir;
}

}  // namespace memvisor

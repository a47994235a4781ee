// Turning a JVM window into stacks with allocated and retained estimates, and by-class totals.
#include "runtimes/jvm/jvm_profile.h"

#include <algorithm>
#include <map>

#include "runtimes/jvm/java_names.h"

namespace memvisor {
namespace {

// Fewer allocation samples than this in a window say little about what was allocated.
constexpr size_t kFewAllocationSamples = 20;

// The threads that run memvisor's own attach commands and JFR's work.
bool is_sampler_thread(const std::string& name) {
  return name == "Attach Listener" || name.rfind("JFR ", 0) == 0;
}

// The shallow size of one object: as JFR recorded it, else arrays from their length, instances
// from the histogram's average (exact for a class, whose instances all have one size); 0 when
// unknown.
double jvm_object_bytes(const JfrSample& sample, const ClassHistogram* after) {
  if (sample.object_bytes > 0) return static_cast<double>(sample.object_bytes);
  if (uint64_t array = java_array_bytes(sample.type, sample.array_elements); array > 0)
    return static_cast<double>(array);
  if (after == nullptr) return 0;
  auto found = after->find(sample.type);
  if (found == after->end() || found->second.instances == 0) return 0;
  return static_cast<double>(found->second.bytes) / static_cast<double>(found->second.instances);
}

ProfileEntry jvm_entry(const JfrSample& sample) {
  ProfileEntry entry;
  entry.frames = sample.frames;
  entry.site = sample.frames.empty() ? 0 : std::min(sample.site, sample.frames.size() - 1);
  entry.type = sample.type;
  entry.samples = 1;
  return entry;
}

}  // namespace

RuntimeProfile jvm_profile(const JvmWindow& window) {
  RuntimeProfile profile;
  profile.runtime = "jvm";
  profile.method =
      "JFR over HotSpot's attach protocol: jdk.OldObjectSample (a bounded sample of objects "
      "allocated in the window and still alive at its end) and jdk.ObjectAllocationSample "
      "(throttled, weighted allocation samples); GC.class_histogram before and after for "
      "by-class totals";
  profile.covers =
      "the Java heap; native memory (NIO direct buffers, JNI, metaspace, thread stacks) is "
      "outside it";
  profile.window_s = window.window_s;
  profile.allocated_known = true;
  profile.retained_known = true;
  profile.interval_bytes = 0;
  const bool histograms = window.before && window.after;
  const ClassHistogram* after = window.after ? &*window.after : nullptr;
  std::map<std::string, ClassGrowth> growth;
  if (histograms)
    for (ClassGrowth& g : class_growth(*window.before, *window.after)) growth[g.type] = g;

  // The samples that belong to the window. An allocation sample's weight reaches back to its
  // thread's previous sample: a thread's first one counts only when that previous one is in the
  // recording (moments before the window), not from before it (the thread's whole past).
  std::vector<const JfrSample*> survivors, allocations;
  std::map<int64_t, bool> thread_seen;
  size_t earlier = 0, own = 0;
  for (const JfrSample& sample : window.samples) {
    if (is_sampler_thread(sample.thread)) {
      ++own;
    } else if (sample.time_ns < window.start_ns) {
      ++earlier;
      if (!sample.old_object) thread_seen[sample.thread_id] = true;
    } else {
      (sample.old_object ? survivors : allocations).push_back(&sample);
    }
  }
  std::stable_sort(allocations.begin(), allocations.end(),
                   [](const JfrSample* a, const JfrSample* b) { return a->time_ns < b->time_ns; });

  std::map<std::string, size_t> survivors_of;
  for (const JfrSample* s : survivors) ++survivors_of[s->type];
  for (const JfrSample* s : survivors) {
    ProfileEntry entry = jvm_entry(*s);
    auto grew = growth.find(s->type);
    if (grew != growth.end() && grew->second.bytes > 0) {
      const auto share = static_cast<double>(survivors_of[s->type]);
      entry.retained_bytes = static_cast<double>(grew->second.bytes) / share;
      entry.retained_count =
          static_cast<double>(std::max<int64_t>(grew->second.instances, 0)) / share;
    } else {
      entry.retained_bytes = jvm_object_bytes(*s, after);
      entry.retained_count = 1;
    }
    profile.entries.push_back(std::move(entry));
  }

  std::map<std::string, double> allocated_by_type;
  for (const JfrSample* s : allocations) {
    if (!thread_seen[s->thread_id]) {
      thread_seen[s->thread_id] = true;
      continue;
    }
    ProfileEntry entry = jvm_entry(*s);
    entry.allocated_bytes = s->weight;
    // Counts for instances only: an allocation sample gives no array length, and an array
    // class's average size says little about the arrays of one stack.
    const bool array = s->type.size() > 2 && s->type.compare(s->type.size() - 2, 2, "[]") == 0;
    const double size = array ? 0 : jvm_object_bytes(*s, after);
    entry.allocated_count = size > 0 ? s->weight / size : 0;
    if (!s->type.empty()) allocated_by_type[s->type] += s->weight;
    profile.entries.push_back(std::move(entry));
  }

  if (histograms) {
    // By class: the growth of the live heap (retained), with the sampled allocations (allocated).
    std::map<std::string, ProfileEntry> types;
    for (const auto& [type, g] : growth) {
      if (g.bytes <= 0) continue;
      ProfileEntry& e = types[type];
      e.type = type;
      e.retained_bytes = static_cast<double>(g.bytes);
      e.retained_count = static_cast<double>(std::max<int64_t>(g.instances, 0));
    }
    for (const auto& [type, bytes] : allocated_by_type) {
      ProfileEntry& e = types[type];
      e.type = type;
      e.allocated_bytes = bytes;
    }
    for (auto& [type, e] : types) profile.types.push_back(std::move(e));
  }

  profile.caveats = window.caveats;
  profile.caveats.push_back(
      "retained: jdk.OldObjectSample keeps at most 256 live sampled objects (more with "
      "-XX:FlightRecorderOptions:old-object-queue-size=N at JVM start), picked at TLAB refills, "
      "roughly by bytes: a small leak in a short window may get no sample");
  if (histograms) {
    profile.caveats.push_back(
        "a stack's retained bytes are its share of its class's growth over the window (the "
        "class histograms); survivors of classes that did not grow count their own size");
  } else {
    profile.caveats.push_back(
        "without class histograms a stack's retained bytes are its sampled objects' own sizes "
        "(a lower bound)");
  }
  profile.caveats.push_back("allocated: jdk.ObjectAllocationSample at most " +
                            window.allocation_throttle +
                            ", each weighted by the bytes its thread allocated since its "
                            "previous sample (counts leave arrays out)");
  // JDK 17's throttled sampler can give a window a burst of samples, or almost none, whatever the
  // program allocated (seen with a steady 0.5 MiB/s: 198 MiB in one 5 s window, 0 B in the next).
  double allocated = 0, retained = 0;
  for (const ProfileEntry& e : profile.entries)
    allocated += e.allocated_bytes, retained += e.retained_bytes;
  if (allocations.size() < kFewAllocationSamples || allocated < retained)
    profile.caveats.push_back(
        "allocated is not reliable in this window: " + std::to_string(allocations.size()) +
        " allocation samples" +
        (allocated < retained ? ", fewer bytes than were retained" : std::string()) +
        " (JFR's throttled sampling is uneven over a short window: take a longer one)");
  profile.caveats.push_back(
      "source files are inferred from class names (com/example/Foo.java): JFR records none");
  if (earlier > 0 || own > 0)
    profile.caveats.push_back(std::to_string(earlier) + " samples from before the window and " +
                              std::to_string(own) +
                              " from the attach and JFR threads (memvisor's own requests) are "
                              "left out");
  return profile;
}

}  // namespace memvisor

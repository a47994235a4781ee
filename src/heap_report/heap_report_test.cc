#include "heap_report/heap_report.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "sampler/sampler_abi.h"

namespace memvisor {
namespace {

namespace sampler_abi = memvisor_sampler;

// Addresses 1xx are in "leak", 2xx in "churn", 7xx in libc's getdelim, 8xx in libstdc++'s string
// constructor, 9xx is operator new.
class FakeSymbolizer : public Symbolizer {
 public:
  SourceFrame resolve(uint64_t address) override {
    if (address >= 900) return {"libstdc++.so.6", "operator new(unsigned long)", "", 0};
    if (address >= 800)
      return {"libstdc++.so.6",
              "std::__cxx11::basic_string<char>::_M_construct(unsigned long, char)", "", 0};
    if (address >= 700) return {"libc.so.6", "getdelim", "", 0};
    if (address >= 600)
      return {"prog", "std::vector<Order>::_M_realloc_insert",
              "/usr/include/c++/12/bits/vector.tcc", 464};
    if (address >= 200) return {"prog", "churn", "churn.cc", 20};
    if (address >= 100) return {"libleak.so", "leak", "leak.cc", 10};
    return {"prog", "main", "main.cc", 5};
  }
};

RawSample sample(uint64_t size, double weight, bool live, std::vector<uint64_t> frames) {
  RawSample s;
  s.size = size;
  s.weight = weight;
  s.alloc_ns = 10;
  s.freed_ns = live ? 0 : 20;
  s.frames = std::move(frames);
  return s;
}

TEST(HeapReport, RetainedIsTheLiveSamplesAndSiteSkipsOperatorNew) {
  RawSamples raw;
  raw.complete = true;
  raw.interval_bytes = 1000;
  raw.samples.push_back(sample(100, 1000, true, {900, 100, 1}));
  raw.samples.push_back(sample(100, 1000, true, {100, 1}));
  raw.samples.push_back(sample(4000, 4000, false, {200, 1}));
  FakeSymbolizer symbols;
  const HeapReport report = build_heap_report(raw, symbols);
  EXPECT_DOUBLE_EQ(report.total_allocated.bytes, 6000);
  EXPECT_EQ(report.total_allocated.samples, 3u);
  EXPECT_DOUBLE_EQ(report.total_retained.bytes, 2000);
  EXPECT_DOUBLE_EQ(report.total_retained.count, 20);
  ASSERT_FALSE(report.by_function.empty());
  EXPECT_EQ(report.by_function[0].key, "leak");
  EXPECT_DOUBLE_EQ(report.by_function[0].retained.bytes, 2000);
  EXPECT_EQ(report.by_module[0].key, "libleak.so");
  EXPECT_EQ(report.by_location[0].key, "leak.cc:10");
  EXPECT_EQ(report.by_function[1].key, "churn");
  EXPECT_DOUBLE_EQ(report.by_function[1].retained.bytes, 0);
  EXPECT_EQ(report.top_stacks.size(), 3u);
}

// The standard libraries are the language's, not the program's: a string built, a vector grown
// (its template instantiated in the program) or a line read for a leaking function is charged to
// that function. With no frame of the program's at all, the
// outermost frame is the site.
TEST(HeapReport, SiteSkipsTheCAndCxxStandardLibraries) {
  RawSamples raw;
  raw.complete = true;
  raw.interval_bytes = 1000;
  raw.samples.push_back(sample(4096, 4096, true, {900, 800, 100, 1}));
  raw.samples.push_back(sample(120, 1000, true, {700, 100, 1}));
  raw.samples.push_back(sample(1000, 1000, true, {900, 600, 100, 1}));
  raw.samples.push_back(sample(64, 1000, true, {900, 800}));
  FakeSymbolizer symbols;
  const HeapReport report = build_heap_report(raw, symbols);
  ASSERT_EQ(report.by_function.size(), 2u);
  EXPECT_EQ(report.by_function[0].key, "leak");
  EXPECT_DOUBLE_EQ(report.by_function[0].retained.bytes, 6096);
  EXPECT_EQ(report.by_module[0].key, "libleak.so");
  EXPECT_EQ(report.by_function[1].key,
            "std::__cxx11::basic_string<char>::_M_construct(unsigned long, char)");
}

TEST(HeapReport, JsonHasEveryTable) {
  RawSamples raw;
  raw.samples.push_back(sample(64, 512, true, {100}));
  FakeSymbolizer symbols;
  const auto json = heap_report_json(build_heap_report(raw, symbols));
  for (const char* key : {"total_allocated", "total_retained", "by_module", "by_function",
                          "by_location", "by_size_class", "top_stacks"})
    EXPECT_TRUE(json.contains(key)) << key;
  EXPECT_EQ(json["total_retained"]["bytes"], 512);
  EXPECT_EQ(json["by_size_class"][0]["size_class"], "64 B - 127 B");
  EXPECT_NE(heap_report_summary(build_heap_report(raw, symbols)).find("leak.cc:10"),
            std::string::npos);
}

TEST(HeapReport, HeadlineNamesTheTopFunctionAndLineInAnyRuntime) {
  RawSamples raw;
  raw.interval_bytes = 139264;  // 136 KiB
  raw.samples.push_back(sample(64, 2 << 20, true, {100}));
  raw.samples.push_back(sample(64, 1 << 20, false, {200}));
  FakeSymbolizer symbols;
  EXPECT_EQ(heap_report_headline(heap_report_json(build_heap_report(raw, symbols))),
            "native, one sample per 136 KiB on average; top function leak ~2 MiB retained; top "
            "line leak.cc:10 ~2 MiB retained");
  // A runtime's own profiler samples otherwise: no interval of bytes, whatever the report holds.
  nlohmann::json node = heap_report_json(build_heap_report(raw, symbols));
  node["runtime"] = "node";
  EXPECT_EQ(heap_report_headline(node).rfind("node; top function leak ~2 MiB retained", 0), 0u)
      << heap_report_headline(node);
  // A tracer that cannot tell retained apart ranks by what was allocated.
  node["retained_known"] = false;
  EXPECT_NE(heap_report_headline(node).find("top function leak ~"), std::string::npos);
  EXPECT_NE(heap_report_headline(node).find(" allocated"), std::string::npos);
  // Nothing seen, or anything malformed: a line all the same, never an exception.
  EXPECT_EQ(heap_report_headline(heap_report_json(build_heap_report(RawSamples{}, symbols))),
            "native; no allocation seen");
  for (const nlohmann::json& bad :
       {nlohmann::json(3), nlohmann::json::object(),
        nlohmann::json{{"runtime", 1}, {"by_function", "x"}},
        nlohmann::json{{"by_function", {1, 2}}, {"interval_bytes", -1}},
        nlohmann::json{{"by_function", {{{"function", "f"}, {"retained", "x"}}}}}}) {
    EXPECT_NO_THROW(heap_report_headline(bad)) << bad.dump();
  }
}

std::string raw_file(const std::vector<sampler_abi::RawRecord>& records, bool complete,
                     const std::string& maps) {
  const uint32_t capacity = 8;
  std::string bytes(sampler_abi::raw_maps_offset(capacity) + maps.size(), '\0');
  sampler_abi::RawHeader header{};
  std::memcpy(header.magic, "MVSRAW01", 8);
  header.version = sampler_abi::kRawVersion;
  header.pid = 42;
  header.interval_bytes = 4096;
  header.start_ns = 100;
  header.end_ns = 1000;
  header.count = records.size();
  header.capacity = capacity;
  header.unwinder = sampler_abi::kUnwindLibunwind;
  header.maps_offset = sampler_abi::raw_maps_offset(capacity);
  header.maps_size = maps.size();
  header.complete = complete ? 1 : 0;
  std::memcpy(bytes.data(), &header, sizeof header);
  for (size_t i = 0; i < records.size(); ++i)
    std::memcpy(bytes.data() + sampler_abi::kRawHeaderSize + i * sizeof(sampler_abi::RawRecord),
                &records[i], sizeof(sampler_abi::RawRecord));
  std::memcpy(bytes.data() + header.maps_offset, maps.data(), maps.size());
  return bytes;
}

sampler_abi::RawRecord record(uint64_t alloc_ns, uint64_t freed_ns) {
  sampler_abi::RawRecord r{};
  r.size = 10;
  r.weight = 4096;
  r.alloc_ns = alloc_ns;
  r.freed_ns = freed_ns;
  r.depth = 2;
  r.frames[0] = 111;
  r.frames[1] = 222;
  return r;
}

TEST(RawSamples, KeepsRecordsOfTheWindowAndFreesBeforeItsEnd) {
  const std::string bytes =
      raw_file({record(200, 0), record(300, 500), record(400, 2000), record(0, 0), record(5000, 0)},
               true, "maps text");
  const auto raw = parse_raw_samples(bytes);
  ASSERT_TRUE(raw.ok()) << raw.error().describe();
  EXPECT_EQ(raw->pid, 42u);
  EXPECT_TRUE(raw->complete);
  ASSERT_EQ(raw->samples.size(), 3u);  // unwritten and after-window records are dropped
  EXPECT_EQ(raw->samples[0].freed_ns, 0u);
  EXPECT_EQ(raw->samples[1].freed_ns, 500u);
  EXPECT_EQ(raw->samples[2].freed_ns, 0u);  // freed after the window: retained
  EXPECT_EQ(raw->samples[0].frames, (std::vector<uint64_t>{111, 222}));
  EXPECT_EQ(raw->maps, "maps text");
  EXPECT_EQ(raw->unwinder, "libunwind");
}

TEST(RawSamples, RejectsWhatIsNotASampleFile) {
  EXPECT_FALSE(parse_raw_samples("short").ok());
  EXPECT_FALSE(parse_raw_samples(std::string(8192, 'x')).ok());
}

}  // namespace
}  // namespace memvisor

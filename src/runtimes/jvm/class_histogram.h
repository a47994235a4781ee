// GC.class_histogram's text (instances and bytes per class of the live heap, after the full GC the
// command forces) and the growth per class between two of them: the by-type totals of a JVM sample.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace memvisor {

struct ClassCount {
  uint64_t instances = 0;
  uint64_t bytes = 0;
};

// By Java type name ("byte[]", "java.lang.String"); a class loaded by several class loaders is
// one entry, their sum. An error when the text is no histogram (an attach error message).
using ClassHistogram = std::map<std::string, ClassCount>;
Result<ClassHistogram> parse_class_histogram(std::string_view text);

struct ClassGrowth {
  std::string type;
  int64_t instances = 0;  // after - before; negative: fewer live at the end
  int64_t bytes = 0;
};

// Every class whose live bytes or instances changed, largest growth first.
std::vector<ClassGrowth> class_growth(const ClassHistogram& before, const ClassHistogram& after);

}  // namespace memvisor

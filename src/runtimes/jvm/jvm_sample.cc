// Placeholder until the jvm sampler lands.
#include "runtimes/runtime_sample.h"

namespace memvisor {

Result<RuntimeProfile> sample_jvm(const RuntimeSampleRequest&, const SampleProgress&) {
  return Error{"the jvm heap sampler is not built yet", 0};
}

}  // namespace memvisor

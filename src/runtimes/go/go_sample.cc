// Placeholder until the go sampler lands.
#include "runtimes/runtime_sample.h"

namespace memvisor {

Result<RuntimeProfile> sample_go(const RuntimeSampleRequest&, const SampleProgress&) {
  return Error{"the go heap sampler is not built yet", 0};
}

}  // namespace memvisor

// Placeholder until the node sampler lands.
#include "runtimes/runtime_sample.h"

namespace memvisor {

Result<RuntimeProfile> sample_node(const RuntimeSampleRequest&, const SampleProgress&) {
  return Error{"the node heap sampler is not built yet", 0};
}

}  // namespace memvisor

// Placeholder until the Python and Ruby agents land.
#include "runtimes/runtime_sample.h"

namespace memvisor {

Result<RuntimeProfile> sample_python(const RuntimeSampleRequest&, const SampleProgress&) {
  return Error{"the python heap sampler is not built yet", 0};
}

Result<RuntimeProfile> sample_ruby(const RuntimeSampleRequest&, const SampleProgress&) {
  return Error{"the ruby heap sampler is not built yet", 0};
}

}  // namespace memvisor

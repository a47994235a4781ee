// The choice of a runtime's sampler.
#include "runtimes/runtime_sample.h"

namespace memvisor {

Result<RuntimeProfile> sample_runtime(RuntimeKind kind, const RuntimeSampleRequest& request,
                                      const SampleProgress& progress) {
  switch (kind) {
    case RuntimeKind::node:
      return sample_node(request, progress);
    case RuntimeKind::jvm:
      return sample_jvm(request, progress);
    case RuntimeKind::python:
      return sample_python(request, progress);
    case RuntimeKind::ruby:
      return sample_ruby(request, progress);
    case RuntimeKind::go:
      return sample_go(request, progress);
    case RuntimeKind::native:
      break;
  }
  return Error{"the native heap sampler is not a runtime sampler", 0};
}

}  // namespace memvisor

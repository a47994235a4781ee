#include "client/memory_info.h"

#include <malloc.h>

#include <cstdio>
#include <cstdlib>

namespace memvisor::client {
namespace {

std::string malloc_info_xml() {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* stream = ::open_memstream(&buffer, &size);
  if (stream == nullptr) return {};
  const int failed = ::malloc_info(0, stream);
  std::fclose(stream);
  std::string xml = failed == 0 && buffer != nullptr ? std::string(buffer, size) : std::string();
  std::free(buffer);
  return xml;
}

}  // namespace

nlohmann::json memory_info() {
  nlohmann::json info = {{"malloc_info", malloc_info_xml()}};
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 m = ::mallinfo2();
  info["mallinfo2"] = {{"arena", m.arena},      {"ordblks", m.ordblks},   {"smblks", m.smblks},
                       {"hblks", m.hblks},      {"hblkhd", m.hblkhd},     {"usmblks", m.usmblks},
                       {"fsmblks", m.fsmblks},  {"uordblks", m.uordblks}, {"fordblks", m.fordblks},
                       {"keepcost", m.keepcost}};
#endif
  return info;
}

}  // namespace memvisor::client

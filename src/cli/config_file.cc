#include "cli/config_file.h"

#include <cstring>

#include "core/config/config_parse.h"
#include "os/files.h"

namespace memvisor {

Result<Config> load_config_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    return Error{path + ": cannot read: " + std::strerror(text.error().errnum)};
  }
  return parse_config(*text, path);
}

}  // namespace memvisor

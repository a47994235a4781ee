#include "cli/config_file.h"

#include <cstring>

#include <fmt/format.h>

#include "core/config/config_parse.h"
#include "os/files.h"
#include "os/spawn.h"

namespace memvisor {

Result<Config> parse_config_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    return Error{path + ": cannot read: " + std::strerror(text.error().errnum)};
  }
  return parse_config(*text, path);
}

Result<Config> load_config_file(const std::string& path) {
  auto config = parse_config_file(path);
  if (!config) return config;
  for (const ServiceConfig& service : config->services) {
    if (service.user.empty()) continue;
    if (auto user = lookup_user(service.user); !user) {
      return Error{fmt::format("{}:{}:{}: service.{}.user: {}", path, service.user_line,
                               service.user_column, service.name, user.error().describe())};
    }
  }
  return config;
}

}  // namespace memvisor

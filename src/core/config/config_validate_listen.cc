#include "core/config/config_validate_listen.h"

#include <fmt/format.h>

#include <charconv>

namespace memvisor {

std::optional<std::string> check_listen_count(size_t count) {
  if (count <= kMaxListenSockets) return std::nullopt;
  return fmt::format("expected at most {} addresses, got {}", kMaxListenSockets, count);
}

std::optional<std::string> check_listen_backlog(int64_t backlog) {
  if (backlog >= 1 && backlog <= 65535) return std::nullopt;
  return fmt::format("expected a queue length from 1 to 65535, got {}", backlog);
}

std::optional<std::string> check_listen_mode(int64_t mode) {
  if (mode >= 0 && mode <= 0777) return std::nullopt;
  return fmt::format("expected a file mode from 0000 to 0777, got {:o}", mode);
}

std::optional<std::string> check_listen_owner(std::string_view owner) {
  const size_t colon = owner.find(':');
  const std::string_view user = owner.substr(0, colon);
  const std::string_view group = colon == std::string_view::npos ? "" : owner.substr(colon + 1);
  const bool ok = !user.empty() && (colon == std::string_view::npos || !group.empty()) &&
                  group.find(':') == std::string_view::npos &&
                  owner.find('\0') == std::string_view::npos;
  if (ok) return std::nullopt;
  return fmt::format("expected \"USER\" or \"USER:GROUP\", got '{}'", owner);
}

Result<uint32_t> parse_listen_mode(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("0o")) digits.remove_prefix(2);
  uint32_t mode = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mode, 8);
  if (digits.empty() || digits.size() > 4 || ec != std::errc{} ||
      end != digits.data() + digits.size() || mode > 0777) {
    return Error{fmt::format("expected an octal file mode like \"0660\", got '{}'", text)};
  }
  return mode;
}

std::string format_listen_mode(uint32_t mode) {
  return fmt::format("{:04o}", mode);
}

std::optional<ListenConflict> find_listen_conflict(const ServiceConfig& service,
                                                   const std::vector<ServiceConfig>& services,
                                                   size_t others_count) {
  for (size_t i = 0; i < service.listen.size(); ++i) {
    const SocketAddress& address = service.listen[i];
    for (size_t j = 0; j < i; ++j) {
      if (addresses_overlap(address, service.listen[j])) {
        return ListenConflict{i, fmt::format("'{}' overlaps listen[{}] '{}'", to_string(address), j,
                                             to_string(service.listen[j]))};
      }
    }
    for (size_t s = 0; s < others_count && s < services.size(); ++s) {
      for (const SocketAddress& other : services[s].listen) {
        if (addresses_overlap(address, other)) {
          return ListenConflict{i, fmt::format("'{}' overlaps '{}' of {}", to_string(address),
                                               to_string(other), service_path(services[s].name))};
        }
      }
    }
  }
  return std::nullopt;
}

ConfigProblem listen_problem(const ListenConflict& conflict) {
  return ConfigProblem{fmt::format("listen[{}]", conflict.index), conflict.what};
}

std::optional<ConfigProblem> find_listen_problem(const ServiceConfig& service) {
  if (auto what = check_listen_count(service.listen.size())) {
    return ConfigProblem{"listen", *what};
  }
  if (service.listen_backlog != 0) {
    if (auto what = check_listen_backlog(service.listen_backlog)) {
      return ConfigProblem{"listen_backlog", *what};
    }
  }
  if (auto what = check_listen_mode(service.listen_mode)) {
    return ConfigProblem{"listen_mode", *what};
  }
  if (!service.listen_owner.empty()) {
    if (auto what = check_listen_owner(service.listen_owner)) {
      return ConfigProblem{"listen_owner", *what};
    }
  }
  if (auto conflict = find_listen_conflict(service, {}, 0)) return listen_problem(*conflict);
  return std::nullopt;
}

}  // namespace memvisor

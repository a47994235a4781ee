// The listening-socket flags of the embedded default: --listen ADDR (repeatable),
// --listen-backlog, --listen-mode, --listen-owner; the same checks as the config file's keys.
#include <fmt/format.h>

#include "cli/service_flags.h"
#include "core/config/config_validate_listen.h"

namespace memvisor {

void ServiceFlags::add_listen_to(CLI::App& app, const std::string& group) {
  app.add_option("--listen", listen_,
                 "a socket memvisor binds once and hands to every instance from fd 3 "
                 "(LISTEN_FDS): 127.0.0.1:8000, [::1]:8000, unix:/run/app.sock (repeatable)")
      ->group(group);
  app.add_option("--listen-backlog", listen_backlog_, "accept queue length (default SOMAXCONN)")
      ->group(group);
  app.add_option("--listen-mode", listen_mode_, "unix sockets: file mode (default 0666)")
      ->group(group);
  app.add_option("--listen-owner", listen_owner_, "unix sockets: USER or USER:GROUP")->group(group);
}

Status ServiceFlags::build_listen(ServiceConfig& service) const {
  for (const std::string& text : listen_) {
    auto address = parse_socket_address(text);
    if (!address) return Error{fmt::format("--listen: {}", address.error().message)};
    service.listen.push_back(*address);
    if (auto conflict = find_listen_conflict(service, {}, 0)) {
      return Error{fmt::format("--listen: {}", conflict->what)};
    }
  }
  if (auto what = check_listen_count(service.listen.size())) {
    return Error{fmt::format("--listen: {}", *what)};
  }
  if (!listen_backlog_.empty()) {
    auto backlog = parse_integer("--listen-backlog", listen_backlog_);
    if (!backlog) return backlog.error();
    if (auto what = check_listen_backlog(*backlog)) {
      return Error{fmt::format("--listen-backlog: {}", *what)};
    }
    service.listen_backlog = static_cast<int>(*backlog);
  }
  if (!listen_mode_.empty()) {
    auto mode = parse_listen_mode(listen_mode_);
    if (!mode) return Error{fmt::format("--listen-mode: {}", mode.error().message)};
    service.listen_mode = static_cast<int>(*mode);
  }
  if (!listen_owner_.empty()) {
    if (auto what = check_listen_owner(listen_owner_)) {
      return Error{fmt::format("--listen-owner: {}", *what)};
    }
    service.listen_owner = listen_owner_;
  }
  return {};
}

}  // namespace memvisor

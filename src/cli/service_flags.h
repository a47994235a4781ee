// The embedded default: one service described entirely by flags (`memvisor run --instances 2 --
// CMD`). Every service key of the config file has a flag of the same name with dashes.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

class ServiceFlags {
 public:
  // Registers the flags on `app`, in a group of their own.
  void add_to(CLI::App& app);
  // Registers only the memory rule flags that guard a single process (`memvisor watch`): no
  // pool, no restart, no replacement, so the others would be accepted and do nothing.
  void add_guard_flags_to(CLI::App& app);
  // Whether any service flag was given (they make no sense together with a config file).
  std::string first_given(const CLI::App& app) const;
  // Builds the service for `command`; errors name the flag: "--instances: expected …".
  Result<ServiceConfig> build(const std::vector<std::string>& command) const;

 private:
  void add_memory_to(CLI::App& app, const std::string& group, bool guard_only = false);
  // "--instances: expected an integer, got 'x'".
  static Result<int64_t> parse_integer(std::string_view flag, const std::string& text);
  // --listen and its companions (service_flags_listen.cc).
  void add_listen_to(CLI::App& app, const std::string& group);
  Status build_listen(ServiceConfig& service) const;
  // The memory rules, surge and max_recycling from their flags.
  Status build_memory(ServiceConfig& service) const;

  std::string name_;
  bool name_given_ = false;
  std::string instances_;
  std::vector<std::string> env_;
  std::string cwd_;
  std::string user_;
  std::string heap_runtime_;
  std::string pprof_;
  std::vector<std::string> listen_;
  std::string listen_backlog_;
  std::string listen_mode_;
  std::string listen_owner_;
  bool shell_ = false;
  std::string restart_;
  std::string restart_backoff_;
  std::string circuit_failures_;
  std::string stop_signal_;
  bool prefork_ = false;
  std::string prefork_signal_;
  std::string ready_;
  std::string output_;
  std::string log_dir_;
  std::string log_max_size_;
  std::string log_keep_;
  std::map<std::string, std::string> durations_;  // config key → text
  // Memory rules as given; empty when not given.
  std::string interval_;
  std::string metric_;
  bool tree_ = false;
  std::string warn_;
  std::string limit_;
  std::string limit_for_;
  std::string critical_;
  std::string total_;
  std::string leak_;
  std::string leak_action_;
  std::string leak_sample_;
  std::string leak_warmup_;
  std::string max_requests_;
  std::string requests_jitter_;
  std::string max_age_;
  std::string age_jitter_;
  bool no_surge_ = false;
  bool heap_sampler_ = false;
  bool cgroup_ = false;
  std::string max_recycling_;
};

}  // namespace memvisor

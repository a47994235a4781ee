// Reading a JVM's /proc entries and perf-data file.
#include "runtimes/jvm/jvm_target.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

#include "core/proc/environ_text.h"
#include "os/files.h"
#include "os/pidfd.h"

namespace memvisor {
namespace {

// The whitespace-separated numbers after "Key:" in a status text.
std::string_view status_field(std::string_view status, std::string_view key) {
  size_t at = 0;
  while (at < status.size()) {
    const size_t end = std::min(status.find('\n', at), status.size());
    std::string_view line = status.substr(at, end - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':')
      return line.substr(key.size() + 1);
    at = end + 1;
  }
  return {};
}

// The `index`th number of a status field (-1: the last one), in `base`.
template <class T>
std::optional<T> status_number(std::string_view field, int index, int base = 10) {
  std::optional<T> found;
  int seen = 0;
  while (!field.empty()) {
    while (!field.empty() && (field.front() == ' ' || field.front() == '\t'))
      field.remove_prefix(1);
    if (field.empty()) break;
    T value{};
    const auto [end, error] =
        std::from_chars(field.data(), field.data() + field.size(), value, base);
    if (error != std::errc()) return std::nullopt;
    field.remove_prefix(static_cast<size_t>(end - field.data()));
    if (index < 0 || seen == index) found = value;
    if (seen++ == index) break;
  }
  return found;
}

// The perf-data file of the JVM: /tmp/hsperfdata_USER/NSPID in its file system, owned by it.
std::optional<PerfData> read_jvm_perf_data(const std::string& root, const ProcIds& ids) {
  const std::string tmp = root + "/tmp";
  DIR* dir = ::opendir(tmp.c_str());
  if (dir == nullptr) return std::nullopt;
  std::optional<PerfData> out;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::string_view(entry->d_name).rfind("hsperfdata_", 0) != 0) continue;
    const std::string path = tmp + "/" + entry->d_name + "/" + std::to_string(ids.nspid);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != ids.euid || st.st_size > (1 << 24))
      continue;
    std::string bytes(static_cast<size_t>(st.st_size), '\0');
    const ssize_t n = ::pread(fd.get(), bytes.data(), bytes.size(), 0);
    if (n <= 0) continue;
    bytes.resize(static_cast<size_t>(n));
    if (auto parsed = parse_perf_data(bytes)) {
      out = std::move(*parsed);
      break;
    }
  }
  ::closedir(dir);
  return out;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

std::optional<ProcIds> parse_status_ids(std::string_view status) {
  ProcIds ids;
  auto nspid = status_number<int>(status_field(status, "NSpid"), -1);
  auto euid = status_number<uid_t>(status_field(status, "Uid"), 1);
  auto egid = status_number<gid_t>(status_field(status, "Gid"), 1);
  auto caught = status_number<uint64_t>(status_field(status, "SigCgt"), 0, 16);
  if (!nspid) nspid = status_number<int>(status_field(status, "Pid"), 0);  // before Linux 4.1
  if (!nspid || !euid || !egid || !caught) return std::nullopt;
  ids.nspid = *nspid;
  ids.euid = *euid;
  ids.egid = *egid;
  ids.caught_signals = *caught;
  return ids;
}

std::string libjvm_path(std::string_view maps) {
  size_t at = 0;
  while ((at = maps.find("/libjvm.so", at)) != std::string_view::npos) {
    const size_t line_start =
        maps.rfind('\n', at) == std::string_view::npos ? 0 : maps.rfind('\n', at) + 1;
    const size_t path_start = maps.find('/', line_start);
    const size_t line_end = std::min(maps.find('\n', at), maps.size());
    std::string_view path = maps.substr(path_start, line_end - path_start);
    // A library replaced on disk (a JDK upgraded in place) is still the one running.
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.size() > kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted)
      path.remove_suffix(kDeleted.size());
    if (path.size() >= 10 && path.substr(path.size() - 10) == "/libjvm.so")
      return std::string(path);
    at += 10;
  }
  return "";
}

bool is_openj9(std::string_view maps) {
  return maps.find("/libj9vm") != std::string_view::npos;
}

bool disables_attach(std::string_view options) {
  bool disabled = false;
  size_t at = 0;
  while (at < options.size()) {
    const size_t end =
        std::min(options.find_first_of(std::string_view("\0 \t\n", 4), at), options.size());
    const std::string_view option = options.substr(at, end - at);
    if (option == "-XX:+DisableAttachMechanism") disabled = true;
    if (option == "-XX:-DisableAttachMechanism") disabled = false;
    at = end + 1;
  }
  return disabled;
}

Result<JvmTarget> inspect_jvm(int pid, const std::string& proc_root) {
  JvmTarget target;
  target.pid = pid;
  target.proc_dir = proc_root + "/" + std::to_string(pid);
  target.root = target.proc_dir + "/root";
  const std::string who = "pid " + std::to_string(pid);
  // Opened first: a pid reused after these checks would not be the process they describe. Not
  // every kernel has pidfds (Linux 5.3+); kill() is the fallback.
  if (proc_root == "/proc") {
    if (auto fd = pidfd_open(pid)) target.pidfd = std::move(*fd);
  }
  auto status = read_file(target.proc_dir + "/status");
  if (!status) return Error{"no process " + std::to_string(pid), status.error().errnum};
  auto maps = read_file(target.proc_dir + "/maps");
  if (!maps) return Error{"read " + target.proc_dir + "/maps", maps.error().errnum};
  auto ids = parse_status_ids(*status);
  if (!ids) return Error{"read " + target.proc_dir + "/status: unexpected format", 0};
  target.ids = *ids;
  if (is_openj9(*maps))
    return Error{who + " is an OpenJ9 JVM; memvisor speaks HotSpot's attach protocol only", 0};
  const std::string libjvm = libjvm_path(*maps);
  if (libjvm.empty())
    return Error{who + " is not a HotSpot JVM (no libjvm.so in its maps); nothing was sent to it",
                 0};
  // JAVA_HOME/lib/server/libjvm.so (JDK 9+), JAVA_HOME/jre/lib/amd64/server/libjvm.so (8).
  if (const size_t lib = libjvm.rfind("/lib/"); lib != std::string::npos) {
    std::string home = libjvm.substr(0, lib);
    if (home.size() > 4 && home.compare(home.size() - 4, 4, "/jre") == 0)
      home.resize(home.size() - 4);
    target.java_home = home;
  }
  const uid_t me = ::geteuid();
  if (me != 0 && me != ids->euid)
    return Error{who + " runs as uid " + std::to_string(ids->euid) + " and memvisor as uid " +
                     std::to_string(me) + ": HotSpot accepts attach only from its own user or root",
                 0};
  target.perf = read_jvm_perf_data(target.root, *ids);
  std::optional<bool> supported = target.perf ? target.perf->attach_supported() : std::nullopt;
  if (!supported) {
    // No perf data (-XX:-UsePerfData): the flag can still be read where it is usually given.
    auto cmdline = read_file(target.proc_dir + "/cmdline");
    auto environ = read_file(target.proc_dir + "/environ");
    std::string options = cmdline ? *cmdline : "";
    for (const char* key : {"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"})
      options += " " + (environ ? environ_value(*environ, key).value_or("") : "");
    supported = !disables_attach(options);
  }
  if (!*supported)
    return Error{who +
                     " does not accept attach (-XX:+DisableAttachMechanism): a JVM sample needs "
                     "HotSpot's attach mechanism; nothing was sent to it",
                 0};
  target.same_mount_namespace = same_file(target.proc_dir + "/ns/mnt", "/proc/self/ns/mnt");
  return target;
}

}  // namespace memvisor

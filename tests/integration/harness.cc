#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/control_client.h"
#include "os/proc.h"

namespace memvisor::testing {

TempDir::TempDir() {
  char pattern[] = "/tmp/mvt-XXXXXX";
  const char* made = ::mkdtemp(pattern);
  path_ = made != nullptr ? made : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content,
                           bool executable) const {
  const std::string path = file(name);
  std::ofstream(path) << content;
  ::chmod(path.c_str(), executable ? 0755 : 0644);
  return path;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

namespace {

pid_t start(const std::vector<std::string>& args, const std::string& out, const std::string& err,
            const std::vector<std::string>& wrapper = {},
            const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = wrapper;
  argv.push_back(MEMVISOR_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t test = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& entry : env) ::putenv(const_cast<char*>(entry.c_str()));
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    // Its own process group, so a test can never signal the test runner by mistake.
    ::setpgid(0, 0);
    // A test that dies (ctest's timeout kills it) takes its memvisor down gracefully, workers
    // included: a daemon left behind with a runaway worker starved every test after it.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != test) ::_exit(127);  // the test is already gone
    std::vector<char*> raw;
    for (auto& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    ::execvp(raw[0], raw.data());
    ::_exit(127);
  }
  return pid;
}

int wait_pid(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (done < 0 || std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

CommandResult run_shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = ::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult run_memvisor(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout) {
  TempDir dir;
  const std::string out = dir.file("out"), err = dir.file("err");
  const pid_t pid = start(args, out, err);
  CommandResult result;
  result.exit_code = wait_pid(pid, timeout);
  if (result.exit_code == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  result.out = read_text(out);
  result.err = read_text(err);
  return result;
}

Memvisor::Memvisor(const TempDir& dir, std::vector<std::string> args,
                   std::vector<std::string> wrapper, std::vector<std::string> env)
    : state_dir_(dir.file("state")),
      out_path_(dir.file("memvisor.out")),
      err_path_(dir.file("memvisor.err")) {
  // --state-dir goes before "--" so it is never taken for part of the worker's command.
  auto dashes = std::find(args.begin(), args.end(), "--");
  args.insert(dashes, {"--state-dir", state_dir_});
  args.insert(args.begin(), "run");
  pid_ = start(args, out_path_, err_path_, wrapper, env);
}

Memvisor::~Memvisor() {
  if (reaped_) return;
  const auto tree = descendants(pid_);
  ::kill(pid_, SIGKILL);
  for (pid_t child : tree) ::kill(child, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

void Memvisor::signal(int signo) const {
  ::kill(pid_, signo);
}

int Memvisor::wait(std::chrono::milliseconds timeout) {
  const int code = wait_pid(pid_, timeout);
  if (code != -1) reaped_ = true;
  return code;
}

std::string Memvisor::out() const {
  return read_text(out_path_);
}
std::string Memvisor::err() const {
  return read_text(err_path_);
}

std::vector<nlohmann::json> Memvisor::events() const {
  std::vector<nlohmann::json> events;
  std::istringstream lines(read_text(state_dir_ + "/events.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    // memvisor's own lines only: a test may plant others, of any shape, to see memvisor cope.
    if (json.is_object() && json["event"].is_string() &&
        (!json.contains("service") || json["service"].is_string()) &&
        (!json.contains("instance") || json["instance"].is_number_integer())) {
      events.push_back(std::move(json));
    }
  }
  return events;
}

std::vector<nlohmann::json> Memvisor::events(const std::string& name,
                                             const std::string& instance) const {
  std::vector<nlohmann::json> matching;
  for (auto& event : events()) {
    if (event.value("event", "") != name) continue;
    const std::string label =
        event.value("service", "") + "." + std::to_string(event.value("instance", 0));
    if (!instance.empty() && label != instance) continue;
    matching.push_back(std::move(event));
  }
  return matching;
}

std::vector<nlohmann::json> Memvisor::wait_events(const std::string& name, size_t count,
                                                  std::chrono::milliseconds timeout,
                                                  const std::string& instance) const {
  std::vector<nlohmann::json> found;
  eventually([&] { return (found = events(name, instance)).size() >= count; }, timeout);
  return found;
}

nlohmann::json Memvisor::status() const {
  const auto result = run_memvisor({"status", "--json", "--state-dir", state_dir_}, 10s);
  if (result.exit_code != 0) return nullptr;
  auto json = nlohmann::json::parse(result.out, nullptr, false);
  return json.is_discarded() ? nlohmann::json(nullptr) : json;
}

nlohmann::json status_of(const Memvisor& memvisor) {
  auto reply = control_request(memvisor.state_dir(), {{"cmd", "status"}});
  if (!reply || !reply->value("ok", false)) return nullptr;
  return (*reply)["status"];
}

double event_seconds(const nlohmann::json& event) {
  std::tm tm{};
  int ms = 0;
  std::sscanf(event.value("ts", "").c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + ms / 1000.0;
}

std::string source_path(const std::string& relative) {
  return (std::filesystem::path(MEMVISOR_SOURCE_DIR) / relative).string();
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

int line_of(const std::string& file, const std::string& marker) {
  std::ifstream in(file);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number)
    if (line.find(marker) != std::string::npos) return number;
  return 0;
}

bool have_program(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

bool process_alive(pid_t pid) {
  auto stat = read_proc_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

std::vector<pid_t> descendants(pid_t pid) {
  std::vector<pid_t> found;
  std::vector<pid_t> frontier = {pid};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    for (pid_t child : child_pids(parent)) {
      found.push_back(child);
      frontier.push_back(child);
    }
  }
  return found;
}

std::string process_states(pid_t pid) {
  std::vector<pid_t> all = {pid};
  for (pid_t child : descendants(pid)) all.push_back(child);
  std::string out;
  for (pid_t p : all) {
    const std::string proc = "/proc/" + std::to_string(p);
    std::string stat = read_text(proc + "/stat");
    // "pid (comm) S ...": the name may hold spaces, the state follows its last ')'.
    const size_t close = stat.rfind(')');
    const std::string name = close == std::string::npos ? "?" : stat.substr(0, close + 1);
    const std::string state = close == std::string::npos ? "gone" : stat.substr(close + 2, 1);
    out += name + " " + state + " wchan=" + read_text(proc + "/wchan") + "\n";
  }
  return out;
}

int connect_control(const std::string& state_dir, std::chrono::seconds receive_timeout) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s/control.sock", state_dir.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{static_cast<time_t>(receive_timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

bool send_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string read_line(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

}  // namespace memvisor::testing

// The attach listener's trigger and the attach connection (after jattach's HotSpot client,
// src/posix/jattach_hotspot.c, and HotSpot's attachListener_linux.cpp).
#include "runtimes/jvm/hotspot_attach.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "os/pidfd.h"

namespace memvisor {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxAttachReply = size_t{64} << 20;

int remaining_ms(Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

// HotSpot accepts a peer of its own euid and egid, or root (SO_PEERCRED, at connect time), and a
// trigger file owned by its own euid or root. A root memvisor takes the JVM's euid/egid around
// both, as jattach does: a JVM in a user namespace sees host root as nobody.
class AttachCredentials {
 public:
  explicit AttachCredentials(const JvmTarget& target) {
    if (::geteuid() != 0 || target.ids.euid == 0) return;
    saved_gid_ = ::getegid();
    if (::setegid(target.ids.egid) != 0) {
      error_ = errno;
      return;
    }
    if (::seteuid(target.ids.euid) != 0) {
      error_ = errno;
      (void)::setegid(saved_gid_);
      return;
    }
    switched_ = true;
  }
  ~AttachCredentials() {
    if (!switched_) return;
    (void)::seteuid(0);
    (void)::setegid(saved_gid_);
  }
  AttachCredentials(const AttachCredentials&) = delete;
  AttachCredentials& operator=(const AttachCredentials&) = delete;
  int error() const { return error_; }

 private:
  gid_t saved_gid_ = 0;
  bool switched_ = false;
  int error_ = 0;
};

std::string attach_socket_path(const JvmTarget& target) {
  return target.root + "/tmp/.java_pid" + std::to_string(target.ids.nspid);
}

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// The trigger file, removed when it goes out of scope if this process created it.
class AttachTrigger {
 public:
  AttachTrigger() = default;
  AttachTrigger(const AttachTrigger&) = delete;
  AttachTrigger& operator=(const AttachTrigger&) = delete;
  ~AttachTrigger() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  // Creates .attach_pid<NSPID> in `dir` with the JVM's credentials; true when a file HotSpot
  // will trust is there (created now, or left by another attaching tool).
  bool create_in(const std::string& dir, const JvmTarget& target, int& error) {
    const std::string path = dir + "/.attach_pid" + std::to_string(target.ids.nspid);
    bool created = false;
    {
      AttachCredentials as_target(target);
      if (as_target.error() != 0) {
        error = as_target.error();
        return false;
      }
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660));
      if (fd.valid()) created = true;
      if (!fd.valid() && errno != EEXIST) {
        error = errno;
        return false;
      }
    }
    // Some file systems map ownership (root squash, idmapped mounts): HotSpot would not trust
    // the file, so it is removed and the next place tried.
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_uid != target.ids.euid && st.st_uid != 0)) {
      if (created) ::unlink(path.c_str());
      error = EPERM;
      return false;
    }
    if (created) path_ = path;
    return true;
  }

 private:
  std::string path_;
};

Status send_sigquit(const JvmTarget& target) {
  if (target.pidfd.valid()) return pidfd_signal(target.pidfd.get(), SIGQUIT);
  if (::kill(target.pid, SIGQUIT) != 0)
    return Error{"send SIGQUIT to pid " + std::to_string(target.pid), errno};
  return {};
}

// A non-blocking connect: a unix socket whose backlog is full answers EAGAIN at once instead of
// blocking past the deadline.
Result<UniqueFd> connect_attach_socket(const JvmTarget& target, Deadline deadline) {
  const std::string path = attach_socket_path(target);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path)
    return Error{"attach socket path too long: " + path, 0};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  while (true) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return Error{"create a unix socket", errno};
    int result = 0;
    int error = 0;
    {
      AttachCredentials as_target(target);
      if (as_target.error() != 0)
        return Error{"take the JVM's uid " + std::to_string(target.ids.euid) + " to attach",
                     as_target.error()};
      result = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
      error = errno;
    }
    if (result == 0) return fd;
    if (error != EAGAIN && error != EINTR)
      return Error{"connect to the JVM's attach socket " + path, error};
    if (remaining_ms(deadline) == 0)
      return Error{"connect to the JVM's attach socket " + path + ": timed out", ETIMEDOUT};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status send_attach_bytes(int fd, std::string_view bytes, Deadline deadline) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return Error{"send to the JVM's attach socket", errno};
    pollfd entry{fd, POLLOUT, 0};
    if (::poll(&entry, 1, remaining_ms(deadline)) == 0)
      return Error{"send to the JVM's attach socket: timed out", ETIMEDOUT};
  }
  return {};
}

Result<std::string> read_attach_reply(int fd, Deadline deadline, std::string_view what) {
  std::string reply;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return reply;
    if (n > 0) {
      reply.append(buffer, static_cast<size_t>(n));
      if (reply.size() > kMaxAttachReply)
        return Error{std::string(what) + ": the JVM's reply exceeds 64 MiB", 0};
      continue;
    }
    if (errno != EAGAIN && errno != EINTR)
      return Error{std::string(what) + ": read the JVM's reply", errno};
    pollfd entry{fd, POLLIN, 0};
    const int left = remaining_ms(deadline);
    if (left == 0 || ::poll(&entry, 1, left) == 0)
      return Error{std::string(what) + ": no reply from the JVM before the timeout", ETIMEDOUT};
  }
}

}  // namespace

Status start_attach_listener(const JvmTarget& target, Deadline deadline,
                             std::chrono::milliseconds wait) {
  const std::string socket = attach_socket_path(target);
  if (is_socket(socket)) return {};
  const std::string who = "pid " + std::to_string(target.pid);
  // Without a SIGQUIT handler (-Xrs, or a JVM still starting), SIGQUIT would kill the process.
  if ((target.ids.caught_signals & (uint64_t{1} << (SIGQUIT - 1))) == 0)
    return Error{who +
                     " does not handle SIGQUIT (started with -Xrs, or still starting): its "
                     "attach listener cannot be started without killing it; nothing was sent",
                 0};
  AttachTrigger trigger;
  int error = 0;
  if (!trigger.create_in(target.proc_dir + "/cwd", target, error) &&
      !trigger.create_in(target.root + "/tmp", target, error))
    return Error{"create the attach trigger .attach_pid" + std::to_string(target.ids.nspid) +
                     " in the working directory or /tmp of " + who,
                 error};
  if (auto sent = send_sigquit(target); !sent) return sent.error();
  const Deadline until = std::min(deadline, SteadyClock::now() + wait);
  auto pause = std::chrono::milliseconds(10);
  while (!is_socket(socket)) {
    if (SteadyClock::now() >= until)
      return Error{
          who + " did not open its attach socket within " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(wait).count()) +
              " s of SIGQUIT: the JVM is not responsive (a long pause, or shutting "
              "down), or attach is disabled (-XX:+DisableAttachMechanism)",
          0};
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
  return {};
}

Result<AttachReply> run_jcmd(const JvmTarget& target, std::string_view command_line,
                             Deadline deadline) {
  const std::string what = "jcmd " + std::string(command_line.substr(0, command_line.find(' ')));
  auto request = attach_request("jcmd", command_line);
  if (!request) return request.error();
  auto fd = connect_attach_socket(target, deadline);
  if (!fd) return fd.error();
  if (auto sent = send_attach_bytes(fd->get(), *request, deadline); !sent) return sent.error();
  auto bytes = read_attach_reply(fd->get(), deadline, what);
  if (!bytes) return bytes.error();
  auto reply = parse_attach_reply(*bytes);
  if (!reply) return Error{what + ": " + reply.error().message, 0};
  return reply;
}

}  // namespace memvisor

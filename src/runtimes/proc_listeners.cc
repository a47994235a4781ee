// Reading a process's listening TCP sockets out of /proc.
#include "runtimes/proc_listeners.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "os/files.h"

namespace memvisor {
namespace {

bool parse_hex_u32(std::string_view text, uint32_t& out) {
  if (text.size() != 8) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return error == std::errc() && end == text.data() + text.size();
}

// The kernel prints each 32-bit word of the address as the host reads it from network order
// ("0100007F" is 127.0.0.1 on a little-endian machine): copying the words back as they are
// gives the network-order bytes on any host.
bool decode_address(std::string_view hex, bool v6, std::string& out) {
  const size_t words = v6 ? 4 : 1;
  if (hex.size() != words * 8) return false;
  unsigned char bytes[16] = {};
  for (size_t i = 0; i < words; ++i) {
    uint32_t word = 0;
    if (!parse_hex_u32(hex.substr(i * 8, 8), word)) return false;
    std::memcpy(bytes + i * 4, &word, 4);
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, text, sizeof text)) return false;
  out = text;
  return true;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    const size_t start = at;
    while (at < line.size() && line[at] != ' ' && line[at] != '\t') ++at;
    if (at > start) fields.push_back(line.substr(start, at - start));
  }
  return fields;
}

}  // namespace

std::vector<TcpListener> parse_proc_net_tcp(std::string_view text, bool v6) {
  std::vector<TcpListener> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const auto fields = split_fields(text.substr(at, end - at));
    at = end + 1;
    // "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ..."
    if (fields.size() < 10 || fields[3] != "0A") continue;
    const std::string_view local = fields[1];
    const size_t colon = local.find(':');
    if (colon == std::string_view::npos) continue;
    TcpListener listener;
    listener.v6 = v6;
    unsigned port = 0;
    auto [port_end, port_error] =
        std::from_chars(local.data() + colon + 1, local.data() + local.size(), port, 16);
    if (port_error != std::errc() || port_end != local.data() + local.size() || port > 65535)
      continue;
    listener.port = static_cast<uint16_t>(port);
    if (!decode_address(local.substr(0, colon), v6, listener.address)) continue;
    auto [inode_end, inode_error] =
        std::from_chars(fields[9].data(), fields[9].data() + fields[9].size(), listener.inode);
    if (inode_error != std::errc() || listener.inode == 0) continue;
    out.push_back(std::move(listener));
  }
  return out;
}

uint64_t socket_inode_of_link(std::string_view link) {
  constexpr std::string_view prefix = "socket:[";
  if (link.substr(0, prefix.size()) != prefix || link.empty() || link.back() != ']') return 0;
  const std::string_view digits = link.substr(prefix.size(), link.size() - prefix.size() - 1);
  uint64_t inode = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), inode);
  if (error != std::errc() || end != digits.data() + digits.size()) return 0;
  return inode;
}

bool is_loopback(const TcpListener& listener) {
  if (!listener.v6) return listener.address.rfind("127.", 0) == 0;
  return listener.address == "::1" || listener.address.rfind("::ffff:127.", 0) == 0;
}

std::string connect_address(const TcpListener& listener) {
  if (listener.address == "0.0.0.0") return "127.0.0.1";
  if (listener.address == "::") return "::1";
  return listener.address;
}

Result<std::set<uint64_t>> process_socket_inodes(int pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid) + "/fd";
  DIR* listing = ::opendir(dir.c_str());
  if (!listing) return Error::from_errno("read " + dir);
  std::set<uint64_t> inodes;
  while (const dirent* entry = ::readdir(listing)) {
    if (entry->d_name[0] == '.') continue;
    char link[64];
    const std::string path = dir + "/" + entry->d_name;
    const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
    if (n <= 0) continue;  // closed since the listing
    if (const uint64_t inode = socket_inode_of_link({link, static_cast<size_t>(n)}))
      inodes.insert(inode);
  }
  ::closedir(listing);
  return inodes;
}

Result<std::vector<TcpListener>> process_listeners(int pid, const std::string& proc_root) {
  auto inodes = process_socket_inodes(pid, proc_root);
  if (!inodes) return inodes.error();
  std::vector<TcpListener> out;
  for (const bool v6 : {false, true}) {
    const std::string path =
        proc_root + "/" + std::to_string(pid) + "/net/" + (v6 ? "tcp6" : "tcp");
    auto text = read_file(path);
    if (!text) {
      if (v6) continue;  // a kernel without IPv6
      return text.error();
    }
    for (TcpListener& listener : parse_proc_net_tcp(*text, v6))
      if (inodes->count(listener.inode)) out.push_back(std::move(listener));
  }
  std::sort(out.begin(), out.end(),
            [](const TcpListener& a, const TcpListener& b) { return a.inode < b.inode; });
  return out;
}

}  // namespace memvisor

// The TCP sockets a process listens on, from /proc/PID/net/tcp{,6} (the sockets of its network
// namespace) joined with the socket:[INODE] links of /proc/PID/fd (the ones it holds).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace memvisor {

struct TcpListener {
  std::string address;  // as inet_ntop writes it: "127.0.0.1", "::1", "0.0.0.0"
  bool v6 = false;
  uint16_t port = 0;
  uint64_t inode = 0;
};

// Pure: the listening sockets (state 0A) of a /proc/net/tcp or /proc/net/tcp6 text.
std::vector<TcpListener> parse_proc_net_tcp(std::string_view text, bool v6);
// Pure: the inode of an fd link "socket:[12345]"; 0 for any other link.
uint64_t socket_inode_of_link(std::string_view link);
// Where a client on this host reaches `listener`: its own address, or the loopback of its family
// for a wildcard ("0.0.0.0" -> "127.0.0.1", "::" -> "::1").
std::string connect_address(const TcpListener& listener);
bool is_loopback(const TcpListener& listener);

// The TCP listeners that process `pid` holds (sorted by inode).
Result<std::vector<TcpListener>> process_listeners(int pid, const std::string& proc_root);
// The inodes of every socket process `pid` holds.
Result<std::set<uint64_t>> process_socket_inodes(int pid, const std::string& proc_root);

}  // namespace memvisor

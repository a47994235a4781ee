#include "http_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace memvisor::testing {

std::optional<HttpReply> http_get(int port, const std::string& path, std::chrono::seconds timeout) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  auto result = client.Get(path);
  if (!result) return std::nullopt;
  return HttpReply{result->status, result->body, result->get_header_value("Content-Type")};
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string scrape_metrics(int port) {
  auto reply = http_get(port, "/metrics");
  return reply && reply->status == 200 ? reply->body : "";
}

}  // namespace memvisor::testing

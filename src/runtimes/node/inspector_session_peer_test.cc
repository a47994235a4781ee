// The inspector session against a fake inspector on loopback that misbehaves as a worker might:
// silent, oversized, wrong handshake, protocol errors, pings, an early close. Every case must end
// in an error (or an answer) by the deadline, never hang or crash.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "runtimes/node/inspector_session.h"

namespace memvisor::nodejs {
namespace {

using namespace std::chrono_literals;

std::string read_head(int fd) {
  std::string text;
  char c;
  while (text.find("\r\n\r\n") == std::string::npos && ::read(fd, &c, 1) == 1) text += c;
  return text;
}

// The payload of one small masked client frame; "" at end of stream.
std::string read_client_frame(int fd, int* opcode) {
  unsigned char head[2];
  if (::recv(fd, head, 2, MSG_WAITALL) != 2) return "";
  *opcode = head[0] & 0x0F;
  size_t size = head[1] & 0x7F;
  if (size == 126) {
    unsigned char ext[2];
    if (::recv(fd, ext, 2, MSG_WAITALL) != 2) return "";
    size = (size_t{ext[0]} << 8) | ext[1];
  }
  unsigned char mask[4];
  if (::recv(fd, mask, 4, MSG_WAITALL) != 4) return "";
  std::string payload(size, '\0');
  if (size && ::recv(fd, payload.data(), size, MSG_WAITALL) != static_cast<ssize_t>(size))
    return "";
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
  return payload;
}

void send_text(int fd, const std::string& text) {
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

std::string server_text_frame(const std::string& payload) {
  std::string out(1, static_cast<char>(0x81));
  if (payload.size() < 126) {
    out += static_cast<char>(payload.size());
  } else {
    out += static_cast<char>(126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xFF);
  }
  return out + payload;
}

// A one-target inspector on 127.0.0.1: answers /json/list, accepts the upgrade (with a right or
// wrong Sec-WebSocket-Accept), then hands the connection to `behave`.
class FakeInspector {
 public:
  explicit FakeInspector(std::function<void(int)> behave, bool right_accept = true) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 4);
    socklen_t size = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, behave = std::move(behave), right_accept] {
      for (int connection = 0; connection < 2; ++connection) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        const std::string head = read_head(fd);
        if (head.rfind("GET /json/list", 0) == 0) {
          const std::string body =
              "[{\"webSocketDebuggerUrl\": \"ws://127.0.0.1:" + std::to_string(port_) + "/t\"}]";
          send_text(fd, "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                            "\r\n\r\n" + body);
          ::close(fd);
          continue;
        }
        const size_t at = head.find("Sec-WebSocket-Key: ") + 19;
        const std::string key = head.substr(at, head.find("\r\n", at) - at);
        send_text(fd,
                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                      (right_accept ? websocket_accept_for(key) : std::string("bad=")) +
                      "\r\n\r\n");
        behave(fd);
        ::close(fd);
      }
    });
  }
  ~FakeInspector() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

Deadline soon() {
  return std::chrono::steady_clock::now() + 500ms;
}

TEST(InspectorSessionPeer, AnswersAndPingsAreHandled) {
  std::string pong;
  FakeInspector inspector([&](int fd) {
    int opcode = 0;
    const std::string request = read_client_frame(fd, &opcode);
    send_text(fd, std::string("\x89\x02hi", 4));  // a ping first
    pong = read_client_frame(fd, &opcode);
    pong += "/" + std::to_string(opcode);
    const int id = nlohmann::json::parse(request)["id"];
    send_text(fd, server_text_frame("{\"method\": \"Some.event\", \"params\": {}}"));
    send_text(
        fd, server_text_frame("{\"id\": " + std::to_string(id) + ", \"result\": {\"ok\": true}}"));
    read_client_frame(fd, &opcode);  // until the client leaves
  });
  auto session = InspectorSession::open("127.0.0.1", inspector.port(), soon());
  ASSERT_TRUE(session.ok()) << session.error().describe();
  auto answer = session->call("Some.method", nlohmann::json::object(), soon());
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ((*answer)["ok"], true);
  EXPECT_EQ(pong, "hi/10");  // answered with a masked pong of the same data
  session->close(soon());
}

TEST(InspectorSessionPeer, ASilentInspectorTimesOut) {
  FakeInspector inspector([](int fd) {
    int opcode = 0;
    read_client_frame(fd, &opcode);
    read_client_frame(fd, &opcode);  // says nothing, waits for the client to go
  });
  auto session = InspectorSession::open("127.0.0.1", inspector.port(), soon());
  ASSERT_TRUE(session.ok()) << session.error().describe();
  auto answer = session->call("Some.method", nlohmann::json::object(), soon());
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.error().describe().find("timed out"), std::string::npos)
      << answer.error().describe();
  session->close(soon());
}

TEST(InspectorSessionPeer, AnOversizedAnswerIsRefusedFromItsHeader) {
  FakeInspector inspector([](int fd) {
    int opcode = 0;
    read_client_frame(fd, &opcode);
    // A text frame announcing 1 TiB.
    send_text(fd, std::string("\x81\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10));
    read_client_frame(fd, &opcode);
  });
  auto session = InspectorSession::open("127.0.0.1", inspector.port(), soon());
  ASSERT_TRUE(session.ok());
  auto answer = session->call("Some.method", nlohmann::json::object(), soon());
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.error().describe().find("larger than the limit of 256 MiB"), std::string::npos)
      << answer.error().describe();
  session->close(soon());
}

TEST(InspectorSessionPeer, ProtocolErrorsAndCloseAreErrors) {
  FakeInspector inspector([](int fd) {
    int opcode = 0;
    const auto first = nlohmann::json::parse(read_client_frame(fd, &opcode));
    send_text(fd, server_text_frame("{\"id\": " + std::to_string(first["id"].get<int>()) +
                                    ", \"error\": {\"code\": -32601, \"message\": \"nope\"}}"));
    read_client_frame(fd, &opcode);
    send_text(fd, std::string("\x88\x00", 2));  // the inspector stops
    read_client_frame(fd, &opcode);             // the client's close answer
  });
  auto session = InspectorSession::open("127.0.0.1", inspector.port(), soon());
  ASSERT_TRUE(session.ok());
  auto failed = session->call("Some.method", nlohmann::json::object(), soon());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "Some.method failed: nope");
  auto closed = session->call("Other.method", nlohmann::json::object(), soon());
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.error().message.find("closed the connection"), std::string::npos)
      << closed.error().message;
  EXPECT_TRUE(session->closed_by_peer());
}

TEST(InspectorSessionPeer, GarbageAndAWrongHandshakeAreErrors) {
  FakeInspector garbage([](int fd) {
    int opcode = 0;
    read_client_frame(fd, &opcode);
    send_text(fd, server_text_frame("not json"));
    read_client_frame(fd, &opcode);
  });
  auto session = InspectorSession::open("127.0.0.1", garbage.port(), soon());
  ASSERT_TRUE(session.ok());
  auto answer = session->call("Some.method", nlohmann::json::object(), soon());
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.error().message.find("not a JSON object"), std::string::npos);

  FakeInspector wrong([](int) {}, false);
  auto refused = InspectorSession::open("127.0.0.1", wrong.port(), soon());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("Sec-WebSocket-Accept"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace memvisor::nodejs

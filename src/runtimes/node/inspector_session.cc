// The inspector's HTTP target list and its WebSocket JSON-RPC.
#include "runtimes/node/inspector_session.h"

#include <array>
#include <charconv>
#include <random>

#include "runtimes/node/http_head.h"
#include "runtimes/node/sha1_base64.h"

namespace memvisor::nodejs {
namespace {

constexpr size_t kMaxHttpResponse = size_t{1} << 20;
constexpr size_t kReadChunk = size_t{256} << 10;

std::string host_of(const std::string& address, uint16_t port) {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
         std::to_string(port);
}

// Loopback peer, no secrets: the key and masks only need to differ (RFC 6455 10.3 is about
// intermediaries a browser cannot trust).
std::mt19937& inspector_random() {
  static std::mt19937 generator{std::random_device{}()};
  return generator;
}

Result<std::string> http_get(const std::string& address, uint16_t port, const std::string& path,
                             Deadline deadline) {
  auto socket = DeadlineSocket::connect(address, port, deadline);
  if (!socket) return socket.error();
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host_of(address, port) +
                              "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
  if (auto sent = socket->send_all(request, deadline); !sent) return sent.error();
  std::string response;
  for (;;) {
    auto got = socket->receive(response, kReadChunk, deadline);
    if (!got) return got.error();
    if (*got == 0) break;
    if (response.size() > kMaxHttpResponse)
      return Error{"GET " + path + ": the answer is larger than 1 MiB", 0};
    // Done at Content-Length, without waiting for the server to close.
    const size_t head_end = http_head_end(response);
    if (head_end == std::string::npos) continue;
    auto head = parse_http_head(std::string_view(response).substr(0, head_end));
    if (!head) break;
    const std::string length_text = head->header("content-length");
    size_t length = 0;
    if (!length_text.empty() &&
        std::from_chars(length_text.data(), length_text.data() + length_text.size(), length).ec ==
            std::errc() &&
        response.size() - head_end >= length)
      break;
  }
  return response;
}

}  // namespace

std::string json_string_member(const nlohmann::json& j, const char* key) {
  // Not find(): GCC 12 sees a null dereference in json's iterator when this is inlined.
  if (!j.is_object() || !j.contains(key)) return "";
  const nlohmann::json& value = j.at(key);
  return value.is_string() ? value.get<std::string>() : "";
}

Result<std::string> http_ok_body(std::string_view response) {
  const size_t head_end = http_head_end(response);
  if (head_end == std::string_view::npos) return Error{"an incomplete HTTP answer", 0};
  auto head = parse_http_head(response.substr(0, head_end));
  if (!head) return Error{"a malformed HTTP answer", 0};
  if (head->status != 200) return Error{"HTTP " + std::to_string(head->status), 0};
  std::string_view body = response.substr(head_end);
  const std::string length_text = head->header("content-length");
  size_t length = 0;
  if (!length_text.empty()) {
    if (std::from_chars(length_text.data(), length_text.data() + length_text.size(), length).ec !=
            std::errc() ||
        body.size() < length)
      return Error{"an HTTP answer shorter than its Content-Length", 0};
    body = body.substr(0, length);
  }
  return std::string(body);
}

Result<std::string> debugger_path_from_json_list(std::string_view body) {
  const auto list = nlohmann::json::parse(body, nullptr, false);
  if (list.is_discarded() || !list.is_array())
    return Error{"/json/list did not answer a JSON list", 0};
  for (const auto& target : list) {
    if (!target.is_object() || !target.contains("webSocketDebuggerUrl") ||
        !target["webSocketDebuggerUrl"].is_string())
      continue;
    const std::string url = target["webSocketDebuggerUrl"].get<std::string>();
    if (url.rfind("ws://", 0) != 0) continue;
    const size_t slash = url.find('/', 5);
    if (slash == std::string::npos) continue;
    return url.substr(slash);
  }
  return Error{"/json/list names no target with a webSocketDebuggerUrl", 0};
}

Result<std::string> inspector_target_path(const std::string& address, uint16_t port,
                                          Deadline deadline) {
  const std::string where = host_of(address, port);
  auto listing = http_get(address, port, "/json/list", deadline);
  if (!listing)
    return Error{"GET http://" + where + "/json/list: " + listing.error().describe(), 0};
  auto body = http_ok_body(*listing);
  if (!body) return Error{"GET http://" + where + "/json/list: " + body.error().describe(), 0};
  auto path = debugger_path_from_json_list(*body);
  if (!path) return Error{"the inspector at " + where + ": " + path.error().message, 0};
  return path;
}

Result<InspectorSession> InspectorSession::open(const std::string& address, uint16_t port,
                                                Deadline deadline) {
  const std::string where = host_of(address, port);
  auto path = inspector_target_path(address, port, deadline);
  if (!path) return path.error();

  auto socket = DeadlineSocket::connect(address, port, deadline);
  if (!socket) return socket.error();
  std::array<uint8_t, 16> nonce{};
  for (uint8_t& byte : nonce) byte = static_cast<uint8_t>(inspector_random()());
  const std::string key = base64_encode(nonce.data(), nonce.size());
  if (auto sent = socket->send_all(websocket_upgrade_request(where, *path, key), deadline); !sent)
    return sent.error();
  std::string response;
  size_t head_end = std::string::npos;
  while ((head_end = http_head_end(response)) == std::string::npos) {
    if (response.size() > 64 * 1024)
      return Error{"the inspector's WebSocket upgrade answer is too long", 0};
    auto got = socket->receive(response, 4096, deadline);
    if (!got) return got.error();
    if (*got == 0) return Error{"the inspector closed the connection during the upgrade", 0};
  }
  if (auto accepted = check_websocket_upgrade(std::string_view(response).substr(0, head_end), key);
      !accepted)
    return Error{"ws://" + where + *path + ": " + accepted.error().message, 0};
  InspectorSession session(std::move(*socket), address, port);
  // Frames that came with the upgrade's answer.
  if (auto fed = session.decoder_.feed(std::string_view(response).substr(head_end)); !fed)
    return fed.error();
  return session;
}

Status InspectorSession::send_frame(WsOpcode opcode, std::string_view payload, Deadline deadline) {
  std::array<uint8_t, 4> mask{};
  for (uint8_t& byte : mask) byte = static_cast<uint8_t>(inspector_random()());
  return socket_.send_all(encode_client_frame(opcode, payload, mask), deadline);
}

void InspectorSession::note_event(const nlohmann::json& message) {
  if (json_string_member(message, "method") == "NodeRuntime.waitingForDisconnect")
    waiting_for_disconnect_ = true;
}

Result<bool> InspectorSession::read_some(Deadline deadline) {
  if (closed_by_peer_) return false;
  std::string chunk;
  auto got = socket_.receive(chunk, kReadChunk, deadline);
  if (!got) return got.error();
  if (*got == 0) {
    closed_by_peer_ = true;
    return false;
  }
  if (auto fed = decoder_.feed(chunk); !fed) return fed.error();
  while (auto event = decoder_.next()) {
    if (event->kind == WsEvent::Kind::close) {
      closed_by_peer_ = true;
      (void)send_frame(WsOpcode::close, "", deadline);  // the closing handshake's answer
      return false;
    }
    if (event->kind == WsEvent::Kind::ping) {
      if (auto sent = send_frame(WsOpcode::pong, event->payload, deadline); !sent)
        return sent.error();
      continue;
    }
    auto message = nlohmann::json::parse(event->payload, nullptr, false);
    if (message.is_discarded() || !message.is_object())
      return Error{"the inspector sent a message that is not a JSON object", 0};
    if (message.contains("id")) {
      answers_.push_back(std::move(message));
    } else {
      note_event(message);
    }
  }
  return true;
}

Result<nlohmann::json> InspectorSession::call(const std::string& method,
                                              const nlohmann::json& params, Deadline deadline) {
  if (closed_by_peer_) return Error{"the inspector closed the connection", 0};
  const int64_t id = next_id_++;
  const nlohmann::json request = {{"id", id}, {"method", method}, {"params", params}};
  if (auto sent = send_frame(WsOpcode::text, request.dump(), deadline); !sent)
    return Error{method + ": " + sent.error().describe(), 0};
  for (;;) {
    for (auto it = answers_.begin(); it != answers_.end(); ++it) {
      if (!(*it)["id"].is_number_integer() || (*it)["id"].get<int64_t>() != id) continue;
      nlohmann::json answer = std::move(*it);
      answers_.erase(it);
      if (answer.contains("error")) {
        const auto& error = answer["error"];
        std::string text = json_string_member(error, "message");
        return Error{method + " failed: " + (text.empty() ? error.dump() : text), 0};
      }
      if (!answer.contains("result") || !answer["result"].is_object())
        return Error{method + ": the inspector's answer has no result", 0};
      return std::move(answer["result"]);
    }
    answers_.clear();  // answers to nothing we wait for
    auto more = read_some(deadline);
    if (!more) return Error{method + ": " + more.error().describe(), 0};
    if (!*more) return Error{method + ": the inspector closed the connection", 0};
  }
}

Result<bool> InspectorSession::pump(Deadline until) {
  while (!closed_by_peer_) {
    auto readable = socket_.wait_readable(until);
    if (!readable) return readable.error();
    if (!*readable) return true;
    auto more = read_some(until);
    if (!more) return more.error();
  }
  return false;
}

bool InspectorSession::wait_for_peer_close(Deadline deadline) {
  while (!closed_by_peer_) {
    auto more = read_some(deadline);
    if (!more) return false;
  }
  return true;
}

void InspectorSession::close(Deadline deadline) {
  if (!closed_by_peer_) (void)send_frame(WsOpcode::close, "", deadline);
  closed_by_peer_ = true;
  socket_.close();
}

}  // namespace memvisor::nodejs

// The worker protocol's lines: JSON objects with a "type", each checked before it is believed.
#include "core/protocol/worker_message.h"

#include "core/protocol/status_text.h"

#include <cmath>

#include "core/config/metric_name.h"

namespace memvisor {
namespace {

WorkerMessage worker_error(WorkerMessage::Kind kind, std::string why) {
  WorkerMessage message;
  message.kind = kind;
  message.text = std::move(why);
  return message;
}

WorkerMessage parse_gauge(const nlohmann::json& message) {
  using Kind = WorkerMessage::Kind;
  const auto name = message.find("name");
  if (name == message.end() || !name->is_string() ||
      !valid_gauge_name(name->get_ref<const std::string&>())) {
    return worker_error(Kind::gauge_error,
                        "gauge needs \"name\" matching [a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 "
                        "characters)");
  }
  const std::string& gauge = name->get_ref<const std::string&>();
  // JSON has no NaN or infinity, but a number too large for a double parses as one.
  const auto value = message.find("value");
  if (value == message.end() || !value->is_number() || !std::isfinite(value->get<double>())) {
    return worker_error(Kind::gauge_error,
                        "gauge '" + gauge + "' needs \"value\", a finite number");
  }
  WorkerMessage parsed;
  parsed.kind = Kind::gauge;
  parsed.text = gauge;
  parsed.value = value->get<double>();
  return parsed;
}

}  // namespace

WorkerMessage parse_worker_message(std::string_view line) {
  using Kind = WorkerMessage::Kind;
  const auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  const auto type_field = message.is_object() ? message.find("type") : message.end();
  if (!message.is_object() || type_field == message.end() || !type_field->is_string()) {
    return worker_error(Kind::error, "expected one JSON object with a \"type\" per line");
  }
  const std::string& type = type_field->get_ref<const std::string&>();
  WorkerMessage parsed;
  if (type == "hello") {
    parsed.kind = Kind::hello;
  } else if (type == "ready") {
    parsed.kind = Kind::ready;
  } else if (type == "status") {
    const auto text = message.find("text");
    if (text == message.end() || !text->is_string()) {
      return worker_error(Kind::error, "status needs \"text\"");
    }
    parsed.kind = Kind::status;
    parsed.text = status_text(text->get_ref<const std::string&>(), WorkerMessage::kMaxStatus);
  } else if (type == "requests") {
    const auto total = message.find("total");
    // An unsigned total past INT64_MAX reads as negative here, and is refused with the rest.
    if (total == message.end() || !total->is_number_integer() || total->get<int64_t>() < 0) {
      return worker_error(Kind::error, "requests needs \"total\", a non-negative integer");
    }
    parsed.kind = Kind::requests;
    parsed.total = total->get<int64_t>();
  } else if (type == "gauge") {
    return parse_gauge(message);
  } else if (type == "reply") {
    const auto id = message.find("id");
    if (id == message.end() || !id->is_number_integer()) {
      parsed.kind = Kind::ignored;
      return parsed;
    }
    parsed.kind = Kind::reply;
    parsed.id = id->get<int64_t>();
    parsed.reply = message;
  } else {
    return worker_error(Kind::error, "unknown message type '" + type + "'");
  }
  return parsed;
}

}  // namespace memvisor

// The one error style of library code: a value or an Error carrying errno and context.
// Exceptions never cross module boundaries; main turns an Error into a message and an exit code.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace memvisor {

struct Error {
  std::string message;  // what was being done, with its subject: "open /run/x.sock"
  int errnum = 0;       // errno when the cause is a system call, otherwise 0

  // "open /run/x.sock: No such file or directory" (message alone when errnum is 0).
  std::string describe() const;

  static Error from_errno(std::string context) { return Error{std::move(context), errno}; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace memvisor

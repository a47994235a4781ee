// Java names from JVM descriptors, and the class library's frames.
#include "runtimes/jvm/java_names.h"

#include <algorithm>

namespace memvisor {
namespace {

std::string_view primitive_name(char code) {
  switch (code) {
    case 'Z':
      return "boolean";
    case 'B':
      return "byte";
    case 'C':
      return "char";
    case 'S':
      return "short";
    case 'I':
      return "int";
    case 'J':
      return "long";
    case 'F':
      return "float";
    case 'D':
      return "double";
    default:
      return "";
  }
}

// An internal name ("java/util/HashMap") in source spelling. A name with a dot is spelled so
// already (internal names have none), and its slash is a hidden class's suffix
// ("Foo$$Lambda$14/0x0000000800c03000"), kept.
std::string dotted(std::string_view name) {
  std::string out(name);
  if (out.find('.') == std::string::npos) std::replace(out.begin(), out.end(), '/', '.');
  return out;
}

}  // namespace

std::string java_type_name(std::string_view jvm_name) {
  size_t dimensions = 0;
  while (dimensions < jvm_name.size() && jvm_name[dimensions] == '[') ++dimensions;
  if (dimensions == 0) return dotted(jvm_name);
  std::string_view element = jvm_name.substr(dimensions);
  std::string out;
  if (element.size() == 1 && !primitive_name(element[0]).empty()) {
    out = primitive_name(element[0]);
  } else if (element.size() > 2 && element.front() == 'L' && element.back() == ';') {
    out = dotted(element.substr(1, element.size() - 2));
  } else {
    return std::string(jvm_name);  // not a descriptor: shown as given
  }
  for (size_t i = 0; i < dimensions; ++i) out += "[]";
  return out;
}

SourceFrame java_frame(std::string_view jvm_class, std::string_view method, int line) {
  const std::string name = dotted(jvm_class);
  SourceFrame frame;
  frame.function = name + "." + std::string(method);
  // The outer class, by Java's convention in Outer.java of its package's directory: a nested
  // class (Outer$Inner), a lambda (Outer$$Lambda$14/0x...) or a generated class's suffix after
  // '$' is cut first, so a hidden class's "/0x..." never reads as a package.
  std::string outer(jvm_class.substr(0, jvm_class.find('$')));
  std::replace(outer.begin(), outer.end(), '.', '/');
  const size_t last_slash = outer.rfind('/');
  frame.module = last_slash == std::string::npos ? "" : dotted(outer.substr(0, last_slash));
  frame.file = outer.empty() ? "" : outer + ".java";
  frame.line = line > 0 ? line : 0;
  return frame;
}

bool is_java_library_class(std::string_view class_name) {
  for (std::string_view prefix : {"java.", "javax.", "jdk.", "sun.", "com.sun.", "java/", "javax/",
                                  "jdk/", "sun/", "com/sun/"}) {
    if (class_name.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

uint64_t java_array_bytes(std::string_view type_name, int64_t elements) {
  if (elements < 0 || type_name.size() < 3 || type_name.substr(type_name.size() - 2) != "[]")
    return 0;
  const std::string_view element = type_name.substr(0, type_name.size() - 2);
  uint64_t width = 4;  // a compressed reference, also int and float
  if (element == "byte" || element == "boolean") width = 1;
  if (element == "char" || element == "short") width = 2;
  if (element == "long" || element == "double") width = 8;
  const uint64_t raw = 16 + width * static_cast<uint64_t>(elements);
  return (raw + 7) / 8 * 8;
}

}  // namespace memvisor

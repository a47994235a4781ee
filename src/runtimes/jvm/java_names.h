// Java class and method names as the report shows them: JVM descriptors ("[B",
// "[Ljava/lang/Object;", "com/example/Foo$Bar") to source spelling ("byte[]",
// "java.lang.Object[]", "com.example.Foo$Bar"), frames, and which frames are the class library's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "heap_report/symbolizer.h"

namespace memvisor {

// "[B" -> "byte[]", "[[Ljava/lang/String;" -> "java.lang.String[][]", "java/util/HashMap" and
// "java.util.HashMap" -> "java.util.HashMap"; a histogram's "[Ljava.lang.Object;" too.
std::string java_type_name(std::string_view jvm_name);

// A frame of class `jvm_class` ("com/example/OrderBook$Entry") and `method`:
//   function "com.example.OrderBook$Entry.archive", module "com.example" (the package; "" for the
//   unnamed one), file "com/example/OrderBook.java" (the outer class's conventional source path:
//   JFR does not record source file names), line as given (<= 0: none).
SourceFrame java_frame(std::string_view jvm_class, std::string_view method, int line);

// The class library's own code, never the allocation site a user looks for: java.*, javax.*,
// jdk.*, sun.*, com.sun.* (collections, strings, reflection, the JFR and attach machinery).
bool is_java_library_class(std::string_view class_name);

// The approximate shallow size of an array of `elements` of type `type_name` ("byte[]",
// "java.lang.Object[]") on a 64-bit HotSpot with compressed class pointers and oops: a 16-byte
// header, then the elements, rounded up to 8 bytes. 0 for a type that is not an array.
uint64_t java_array_bytes(std::string_view type_name, int64_t elements);

}  // namespace memvisor

#include "runtimes/jvm/java_names.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(JavaNames, DescriptorsReadAsSource) {
  EXPECT_EQ(java_type_name("[B"), "byte[]");
  EXPECT_EQ(java_type_name("[[I"), "int[][]");
  EXPECT_EQ(java_type_name("[Ljava/lang/Object;"), "java.lang.Object[]");
  EXPECT_EQ(java_type_name("[Ljava.lang.String;"), "java.lang.String[]");  // a histogram's
  EXPECT_EQ(java_type_name("java/util/HashMap$Node"), "java.util.HashMap$Node");
  EXPECT_EQ(java_type_name("com.example.Invoice"), "com.example.Invoice");
  EXPECT_EQ(java_type_name("[X"), "[X");  // not a descriptor: as given
  EXPECT_EQ(java_type_name("["), "[");
  // A hidden class, as a histogram and JFR name it: its suffix is no package.
  EXPECT_EQ(java_type_name("com.example.Shop$$Lambda$14/0x0000000800c03000"),
            "com.example.Shop$$Lambda$14/0x0000000800c03000");
}

TEST(JavaNames, FrameOfANestedClass) {
  const SourceFrame frame = java_frame("com/example/OrderBook$Entry", "archive", 42);
  EXPECT_EQ(frame.function, "com.example.OrderBook$Entry.archive");
  EXPECT_EQ(frame.module, "com.example");
  EXPECT_EQ(frame.file, "com/example/OrderBook.java");
  EXPECT_EQ(frame.line, 42);
}

TEST(JavaNames, FrameOfTheUnnamedPackageAndOfAHiddenClass) {
  const SourceFrame plain = java_frame("Main", "main", -1);
  EXPECT_EQ(plain.function, "Main.main");
  EXPECT_EQ(plain.module, "");
  EXPECT_EQ(plain.file, "Main.java");
  EXPECT_EQ(plain.line, 0);
  const SourceFrame lambda = java_frame("com/example/Shop$$Lambda$14/0x0000000800c03000", "run", 0);
  EXPECT_EQ(lambda.module, "com.example");
  EXPECT_EQ(lambda.file, "com/example/Shop.java");
}

TEST(JavaNames, ClassLibraryFrames) {
  for (const char* name : {"java/util/HashMap", "java.lang.String", "jdk/internal/misc/Unsafe",
                           "sun/nio/ch/Util", "javax/crypto/Cipher", "com/sun/proxy/$Proxy1"})
    EXPECT_TRUE(is_java_library_class(name)) << name;
  for (const char* name : {"com/example/OrderBook", "javafx/Thing", "Main", "jdkx/Foo"})
    EXPECT_FALSE(is_java_library_class(name)) << name;
}

TEST(JavaNames, ArraySizes) {
  EXPECT_EQ(java_array_bytes("byte[]", 1024), 1040u);
  EXPECT_EQ(java_array_bytes("byte[]", 1), 24u);
  EXPECT_EQ(java_array_bytes("long[]", 3), 40u);
  EXPECT_EQ(java_array_bytes("java.lang.Object[]", 3), 32u);
  EXPECT_EQ(java_array_bytes("java.lang.String", 3), 0u);
  EXPECT_EQ(java_array_bytes("byte[]", -1), 0u);
}

}  // namespace
}  // namespace memvisor

#include "core/proc/runtime_kind.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(RuntimeKind, ByTheExecutablesName) {
  EXPECT_EQ(runtime_from_process("/usr/bin/node", ""), RuntimeKind::node);
  EXPECT_EQ(runtime_from_process("/usr/bin/nodejs", ""), RuntimeKind::node);
  EXPECT_EQ(runtime_from_process("/usr/bin/python3.11", ""), RuntimeKind::python);
  EXPECT_EQ(runtime_from_process("/root/.pyenv/versions/3.11.7/bin/python3", ""),
            RuntimeKind::python);
  EXPECT_EQ(runtime_from_process("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", ""),
            RuntimeKind::jvm);
  EXPECT_EQ(runtime_from_process("/usr/bin/ruby3.1", ""), RuntimeKind::ruby);
  EXPECT_EQ(runtime_from_process("/usr/bin/node (deleted)", ""), RuntimeKind::node);
  EXPECT_EQ(runtime_from_process("/usr/bin/sqlite3", ""), RuntimeKind::native);
  EXPECT_EQ(runtime_from_process("/usr/bin/python-config-helper", ""), RuntimeKind::native);
  EXPECT_EQ(runtime_from_process("", ""), RuntimeKind::native);
}

TEST(RuntimeKind, AnEmbedderByTheRuntimesLibrary) {
  const char* jvm =
      "7f0e1c000000-7f0e1c200000 r-xp 00000000 08:01 42 "
      "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n";
  EXPECT_EQ(runtime_from_process("/opt/app/launcher", jvm), RuntimeKind::jvm);
  const char* python = "7f00-7f10 r-xp 00000000 08:01 7 /usr/lib/libpython3.11.so.1.0\n";
  EXPECT_EQ(runtime_from_process("/usr/sbin/uwsgi", python), RuntimeKind::python);
  // A file that merely contains the name is not the library.
  const char* other = "7f00-7f10 r-xp 00000000 08:01 7 /srv/not-libjvm.so.txt\n";
  EXPECT_EQ(runtime_from_process("/opt/app/launcher", other), RuntimeKind::native);
}

TEST(RuntimeKind, AShellByItsExecutable) {
  EXPECT_TRUE(is_shell_executable("/usr/bin/dash"));
  EXPECT_TRUE(is_shell_executable("/bin/sh"));
  EXPECT_TRUE(is_shell_executable("/usr/bin/bash (deleted)"));
  EXPECT_TRUE(is_shell_executable("/bin/busybox"));
  EXPECT_FALSE(is_shell_executable("/usr/bin/ssh"));
  EXPECT_FALSE(is_shell_executable("/usr/bin/bashbug"));
  EXPECT_FALSE(is_shell_executable("/usr/bin/python3.11"));
  EXPECT_FALSE(is_shell_executable(""));
}

TEST(RuntimeKind, NamesRoundTrip) {
  for (auto kind : {RuntimeKind::native, RuntimeKind::node, RuntimeKind::python, RuntimeKind::jvm,
                    RuntimeKind::ruby, RuntimeKind::go}) {
    EXPECT_EQ(parse_runtime_kind(runtime_name(kind)), kind);
  }
  EXPECT_FALSE(parse_runtime_kind("java"));
  EXPECT_FALSE(parse_runtime_kind(""));
}

}  // namespace
}  // namespace memvisor

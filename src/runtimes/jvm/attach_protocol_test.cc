#include "runtimes/jvm/attach_protocol.h"

#include <gtest/gtest.h>

#include "runtimes/jvm/jvm_test_fixtures.h"

namespace memvisor {
namespace {

using namespace std::string_literals;

TEST(AttachProtocol, RequestIsVersionCommandAndThreeArguments) {
  auto request = attach_request("jcmd", "GC.class_histogram");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(*request, "1\0jcmd\0GC.class_histogram\0\0\0"s);
}

TEST(AttachProtocol, OverlongOrNulArgumentsAreRefused) {
  EXPECT_FALSE(attach_request("jcmd", std::string(1025, 'x')).ok());
  EXPECT_TRUE(attach_request("jcmd", std::string(1024, 'x')).ok());
  EXPECT_FALSE(attach_request("jcmd", "a\0b"s).ok());
}

TEST(AttachProtocol, RealRepliesOfJfrStartAndStop) {
  auto started = parse_attach_reply(jvm_fixture("reply_jfr_start.txt"));
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(started->code, 0);
  EXPECT_EQ(started->output.rfind("Started recording ", 0), 0u) << started->output;
  auto stopped = parse_attach_reply(jvm_fixture("reply_jfr_stop.txt"));
  ASSERT_TRUE(stopped.ok());
  EXPECT_NE(stopped->output.find("written to"), std::string::npos);
}

TEST(AttachProtocol, JcmdErrorsComeWithCodeZeroOrMinusOne) {
  // A JFR command's own failure is code 0 and a message; an unknown command is code -1.
  auto bad_settings = parse_attach_reply(jvm_fixture("reply_jfr_start_bad_settings.txt"));
  ASSERT_TRUE(bad_settings.ok());
  EXPECT_EQ(bad_settings->code, 0);
  EXPECT_EQ(attach_reply_text(*bad_settings), "Could not parse settings file '/nonexistent.jfc'");
  auto unknown = parse_attach_reply(jvm_fixture("reply_unknown_command.txt"));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->code, -1);
  EXPECT_EQ(attach_reply_text(*unknown),
            "code -1: java.lang.IllegalArgumentException: Unknown diagnostic command");
}

TEST(AttachProtocol, WhatIsNoReplyIsAnError) {
  EXPECT_FALSE(parse_attach_reply("").ok());
  EXPECT_FALSE(parse_attach_reply("hello\n").ok());
  EXPECT_FALSE(parse_attach_reply("\n0\n").ok());
  EXPECT_FALSE(parse_attach_reply("12x\nout").ok());
  auto bare = parse_attach_reply("0");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->output, "");
}

TEST(AttachProtocol, ReplyTextIsOneBoundedLine) {
  AttachReply reply{0, "a\n\n  b\tc\n" + std::string(500, 'x')};
  const std::string text = attach_reply_text(reply);
  EXPECT_EQ(text.rfind("a b c x", 0), 0u) << text;
  EXPECT_EQ(text.size(), 300u);
  EXPECT_EQ(attach_reply_text(AttachReply{0, ""}), "(no output)");
}

}  // namespace
}  // namespace memvisor

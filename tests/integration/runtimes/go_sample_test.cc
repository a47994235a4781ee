// A Go worker's heap sample through its own net/http/pprof endpoint: a real program built with
// the Go toolchain, supervised by the real memvisor, sampled with `memvisor sample`.

#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"
#include "runtimes/go_worker.h"

namespace memvisor::testing {
namespace {

nlohmann::json read_report(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

TEST(GoSample, TheTopRetainedFunctionAndLineAreTheLeakInEachOfThreeRuns) {
  TempDir dir;
  const std::string binary = build_leaky_go(dir);
  if (binary.empty()) GTEST_SKIP() << "no Go toolchain (golang-go)";
  const int port = free_port();
  Memvisor memvisor(dir, {go_config(dir, binary, port, "1")});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  ASSERT_TRUE(pprof_answers(port));
  for (int run = 1; run <= 3; ++run) {
    const std::string out = dir.file("go-" + std::to_string(run) + ".json");
    const auto result = run_memvisor({"sample", "api.1", "--duration", "3s", "--timeout", "30s",
                                      "--out", out, "--state-dir", memvisor.state_dir()},
                                     60s);
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const nlohmann::json report = read_report(out);
    ASSERT_TRUE(report.is_object());
    EXPECT_EQ(report["runtime"], "go");
    ASSERT_FALSE(report["by_function"].empty());
    EXPECT_EQ(report["by_function"][0]["function"], "main.rememberInvoice") << report.dump(2);
    const std::string location = report["by_location"][0]["location"];
    EXPECT_TRUE(location.ends_with("tests/runtimes/go/leaky.go:" +
                                   std::to_string(leaky_go_line("leaked with its invoice"))))
        << location;
    EXPECT_EQ(report["by_module"][0]["module"], "main");
    // The churn allocates far more than the leak, and keeps almost none of it.
    EXPECT_GT(report["total_allocated"]["bytes"].get<double>(),
              10 * report["total_retained"]["bytes"].get<double>());
    EXPECT_NE(result.out.find("top functions"), std::string::npos) << result.out;
  }
}

TEST(GoSample, ALeakThroughTheStandardLibraryIsChargedToItsCaller) {
  TempDir dir;
  const std::string binary = build_leaky_go(dir);
  if (binary.empty()) GTEST_SKIP() << "no Go toolchain (golang-go)";
  const int port = free_port();
  Memvisor memvisor(dir, {go_config(dir, binary, port, "helper")});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  ASSERT_TRUE(pprof_answers(port));
  const std::string out = dir.file("helper.json");
  const auto result = run_memvisor(
      {"sample", "api.1", "--duration", "3s", "--out", out, "--state-dir", memvisor.state_dir()},
      60s);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = read_report(out);
  EXPECT_EQ(report["by_function"][0]["function"], "main.cacheGreeting") << report.dump(2);
  const std::string location = report["by_location"][0]["location"];
  EXPECT_TRUE(
      location.ends_with("leaky.go:" + std::to_string(leaky_go_line("strings.Repeat(\"hello"))))
      << location;
  // The stack itself still shows where in the standard library the bytes were made.
  EXPECT_NE(report["top_stacks"][0]["frames"][0].get<std::string>().find("strings."),
            std::string::npos)
      << report["top_stacks"][0].dump();
}

TEST(GoSample, WithoutTheLeakTheLeakingFunctionRetainsNothing) {
  TempDir dir;
  const std::string binary = build_leaky_go(dir);
  if (binary.empty()) GTEST_SKIP() << "no Go toolchain (golang-go)";
  const int port = free_port();
  Memvisor memvisor(dir, {go_config(dir, binary, port, "0")});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  ASSERT_TRUE(pprof_answers(port));
  const std::string out = dir.file("steady.json");
  const auto result = run_memvisor(
      {"sample", "api.1", "--duration", "3s", "--out", out, "--state-dir", memvisor.state_dir()},
      60s);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const auto& row : read_report(out)["by_function"])
    EXPECT_NE(row["function"], "main.rememberInvoice") << row.dump();
}

// A Go binary is told by its sections: with heap_sampler on and no endpoint named, the sample
// says what it needs instead of asking a native sampler that Go's allocator never calls.
TEST(GoSample, AGoBinaryWithoutAnEndpointIsToldApartAndTheEndpointAskedFor) {
  TempDir dir;
  const std::string binary = build_leaky_go(dir);
  if (binary.empty()) GTEST_SKIP() << "no Go toolchain (golang-go)";
  const int port = free_port();
  const std::string config =
      dir.write("go.toml", "[service.api]\ncommand = [\"" + binary +
                               "\"]\nheap_sampler = true\nenv = { PPROF_ADDR = \"127.0.0.1:" +
                               std::to_string(port) + "\", LEAK = \"1\" }\n");
  Memvisor memvisor(dir, {config});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  ASSERT_TRUE(pprof_answers(port));
  const auto result =
      run_memvisor({"sample", "api.1", "--duration", "2s", "--timeout", "20s", "--out",
                    dir.file("go.json"), "--state-dir", memvisor.state_dir()},
                   40s);
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.err.find("pprof = \"http://127.0.0.1:PORT\""), std::string::npos) << result.err;
}

TEST(GoSample, NoEndpointIsOneClearErrorAtOnce) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "plain", "--heap-sampler", "--", "sleep", "600"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  // Forced to Go without an endpoint.
  auto result = run_memvisor({"sample", "plain.1", "--runtime", "go", "--duration", "1s",
                              "--state-dir", memvisor.state_dir()},
                             20s);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("pprof = \"http://127.0.0.1:PORT\""), std::string::npos) << result.err;
  // An endpoint another process serves (here: this test): refused at once, before any request,
  // since its heap is not the sampled process's.
  const int other = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(other, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(other, 4), 0);
  ::getsockname(other, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string port = std::to_string(ntohs(address.sin_port));
  result = run_memvisor({"sample", "plain.1", "--pprof", "http://127.0.0.1:" + port, "--duration",
                         "1s", "--state-dir", memvisor.state_dir()},
                        20s);
  ::close(other);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("does not listen on port " + port +
                            ", so the pprof endpoint there is another process's"),
            std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace memvisor::testing

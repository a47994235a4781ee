// The listen keys through every door: the TOML reader (values, positions, conflicts between
// services), the JSON hand-off, and validate_config.
#include <gtest/gtest.h>

#include "core/config/config_json.h"
#include "core/config/config_parse.h"
#include "core/config/config_validate.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

TEST(ListenConfig, ReadsAddressesBacklogModeAndOwner) {
  const Config config = config_ok(web_service(
      "listen = [\"127.0.0.1:8000\", \"[::1]:8000\", \"unix:/run/app/web.sock\"]\n"
      "listen_backlog = 512\nlisten_mode = \"0660\"\nlisten_owner = \"www-data:adm\"\n"));
  const ServiceConfig& s = config.services.at(0);
  ASSERT_EQ(s.listen.size(), 3u);
  EXPECT_EQ(to_string(s.listen[0]), "127.0.0.1:8000");
  EXPECT_EQ(to_string(s.listen[1]), "[::1]:8000");
  EXPECT_EQ(to_string(s.listen[2]), "unix:/run/app/web.sock");
  EXPECT_EQ(s.listen_backlog, 512);
  EXPECT_EQ(s.listen_mode, 0660);
  EXPECT_EQ(s.listen_owner, "www-data:adm");

  EXPECT_EQ(
      config_ok(web_service("listen = \":8000\"\nlisten_mode = 0o600\n")).services[0].listen_mode,
      0600);
  EXPECT_EQ(to_string(config_ok(web_service("listen = \":8000\"\n")).services[0].listen.at(0)),
            "127.0.0.1:8000");
  EXPECT_EQ(config_ok(web_service("")).services[0].listen_mode, 0666);
}

TEST(ListenConfig, BadValuesNameTheFieldAndPosition) {
  EXPECT_EQ(config_error(web_service("listen = [\"127.0.0.1:8000\", \"8001\"]\n")),
            "web.toml:3:29: service.web.listen[1]: missing ':PORT'; expected HOST:PORT, "
            "[IPV6]:PORT or :PORT (e.g. \"127.0.0.1:9464\") (or \"unix:/PATH\" for a unix "
            "socket)");
  EXPECT_EQ(config_error(web_service("listen = 8000\n")),
            "web.toml:3:10: service.web.listen: expected an array of addresses like "
            "\"127.0.0.1:8000\", got an integer");
  EXPECT_EQ(config_error(web_service("listen = [8000]\n")),
            "web.toml:3:11: service.web.listen[0]: expected a string like \"127.0.0.1:8000\", "
            "got an integer");
  EXPECT_EQ(config_error(web_service("listen = [\"unix:\"]\n")),
            "web.toml:3:11: service.web.listen[0]: expected a path after 'unix:' (e.g. "
            "\"unix:/run/app/web.sock\")");
  EXPECT_EQ(config_error(web_service("listen = [\"0.0.0.0:80\", \"127.0.0.1:80\"]\n")),
            "web.toml:3:25: service.web.listen[1]: '127.0.0.1:80' overlaps listen[0] "
            "'0.0.0.0:80'");
  EXPECT_EQ(config_error(web_service("listen_backlog = 0\n")),
            "web.toml:3:18: service.web.listen_backlog: expected a queue length from 1 to 65535, "
            "got 0");
  EXPECT_EQ(config_error(web_service("listen_mode = \"0989\"\n")),
            "web.toml:3:15: service.web.listen_mode: expected an octal file mode like \"0660\", "
            "got '0989'");
  EXPECT_EQ(config_error(web_service("listen_mode = 0o1777\n")),
            "web.toml:3:15: service.web.listen_mode: expected a file mode from 0000 to 0777, got "
            "1777");
  EXPECT_EQ(config_error(web_service("listen_owner = \"a:b:c\"\n")),
            "web.toml:3:16: service.web.listen_owner: expected \"USER\" or \"USER:GROUP\", got "
            "'a:b:c'");
  EXPECT_EQ(config_error(web_service("listn = [\":8000\"]\n")).substr(0, 60),
            "web.toml:3:1: unknown key 'listn' in [service.web]; did you ");
}

TEST(ListenConfig, TwoServicesCannotShareAnAddress) {
  EXPECT_EQ(config_error(
                "[service.web]\ncommand = [\"a\"]\nlisten = [\"[::]:8000\"]\n"
                "[service.api]\ncommand = [\"b\"]\nlisten = [\"unix:/a\", \"127.0.0.1:8000\"]\n"),
            "web.toml:6:22: service.api.listen[1]: '127.0.0.1:8000' overlaps '[::]:8000' of "
            "service.web");
  EXPECT_EQ(config_error("[service.web]\ncommand = [\"a\"]\nlisten = \"unix:/a\"\n"
                         "[service.api]\ncommand = [\"b\"]\nlisten = \"unix:/a\"\n"),
            "web.toml:6:10: service.api.listen: 'unix:/a' overlaps 'unix:/a' of service.web");
}

TEST(ListenConfig, SurvivesTheJsonHandOffAndValidation) {
  const Config config = config_ok(
      web_service("listen = [\"127.0.0.1:8000\", \"unix:@web\", \"fdname:http\"]\n"
                  "listen_backlog = 64\nlisten_mode = \"0600\"\nlisten_owner = \"nobody\"\n"));
  auto back = config_from_json(config_to_json(config));
  ASSERT_TRUE(back) << back.error().message;
  const ServiceConfig& s = back->services.at(0);
  ASSERT_EQ(s.listen.size(), 3u);
  EXPECT_EQ(s.listen, config.services[0].listen);
  EXPECT_EQ(s.listen_backlog, 64);
  EXPECT_EQ(s.listen_mode, 0600);
  EXPECT_EQ(s.listen_owner, "nobody");

  Config twice = config;
  twice.services.push_back(config.services[0]);
  twice.services[1].name = "api";
  EXPECT_EQ(validate_config(twice).error().message,
            "service.api.listen[0]: '127.0.0.1:8000' overlaps '127.0.0.1:8000' of service.web");
}

}  // namespace
}  // namespace memvisor

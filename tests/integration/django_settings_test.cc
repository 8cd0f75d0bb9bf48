// `portcullis django-settings -c FILE`: the Django settings and gunicorn flags that match the
// config (exit 0, valid Python), the same error and exit code as -t for a bad config; and the
// Django warnings of `portcullis -t` ("warning: file:line:col: ...").
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "harness/harness.h"

namespace portcullis::integration {
namespace {

class DjangoSettings : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(proxyBinary().empty()) << "PORTCULLIS_BIN is not set";
    ASSERT_TRUE(devCert().error.empty()) << devCert().error;
  }

  // 127.0.0.1:9 (discard): a literal, so no DNS; nothing connects to it.
  ProxyConfig config() const { return ProxyConfig::singleUpstream({"127.0.0.1:9"}); }

  CommandResult run(const std::string& yaml, std::vector<std::string> args) {
    config_path_ = dir_.writeFile("config.yaml", yaml);
    std::vector<std::string> argv = {proxyBinary()};
    for (auto& a : args) argv.push_back(a == "CONFIG" ? config_path_ : a);
    CommandResult r;
    EXPECT_TRUE(runCommand(argv, &r));
    return r;
  }

  TempDir dir_;
  std::string config_path_;
};

int lineOf(const std::string& yaml, const std::string& text) {
  size_t at = yaml.find(text);
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(yaml.begin(), yaml.begin() + static_cast<long>(at), '\n'));
}

TEST_F(DjangoSettings, PrintsSettingsThatPythonParses) {
  CommandResult r = run(config().toYaml(), {"django-settings", "-c", "CONFIG"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string& out = r.stdout_text;
  EXPECT_NE(out.find("\nSECURE_PROXY_SSL_HEADER = (\"HTTP_X_FORWARDED_PROTO\", \"https\")"), std::string::npos) << out;
  // The route takes any host: the dev certificate's names (localhost, 127.0.0.1, ::1).
  EXPECT_NE(out.find("\n    \"localhost\",  # certificate of listener 'https'"), std::string::npos) << out;
  EXPECT_NE(out.find("\n    \"[::1]\","), std::string::npos) << out;
  EXPECT_NE(out.find("\n#   gunicorn --forwarded-allow-ips=127.0.0.1 --timeout=65 --keep-alive=3 "), std::string::npos) << out;

  // The output as a file, parsed by python3 (skipped where there is none).
  CommandResult py;
  ASSERT_TRUE(runCommand({"/usr/bin/env", "python3", "-c", ""}, &py));
  if (py.exit_code != 0) GTEST_SKIP() << "no python3";
  std::string file = dir_.writeFile("settings.py", out);
  ASSERT_TRUE(runCommand({"/usr/bin/env", "python3", "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", file}, &py));
  EXPECT_EQ(py.exit_code, 0) << py.stderr_text << "\n" << out;
}

// The settings in a real Django (and the flags in a real gunicorn), where Debian's packages are
// installed (python3-django, gunicorn; skipped elsewhere): Django takes the proxy's https and
// the certificate's host names, and refuses another Host.
TEST_F(DjangoSettings, DjangoAndGunicornAcceptThem) {
  CommandResult py;
  ASSERT_TRUE(runCommand({"/usr/bin/python3", "-c", "import django, gunicorn"}, &py));
  if (py.exit_code != 0) GTEST_SKIP() << "no Django or gunicorn for /usr/bin/python3: " << py.stderr_text;

  CommandResult r = run(config().toYaml(), {"django-settings", "--format", "settings", "-c", "CONFIG"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  dir_.writeFile("generated.py", r.stdout_text);
  dir_.writeFile("site_settings.py",
                 "SECRET_KEY = 'integration-test-' * 4\n"
                 "DEBUG = False\n"
                 "ROOT_URLCONF = 'site_urls'\n"
                 "from generated import *\n");
  dir_.writeFile("site_urls.py", "urlpatterns = []\n");
  dir_.writeFile("site_wsgi.py",
                 "def application(environ, start_response):\n"
                 "    start_response('200 OK', [])\n"
                 "    return [b'ok']\n");
  const std::string script =
      "import os, sys\n"
      "sys.path.insert(0, sys.argv[1])\n"
      "os.environ['DJANGO_SETTINGS_MODULE'] = 'site_settings'\n"
      "import django\n"
      "django.setup()\n"
      "from django.core.exceptions import DisallowedHost\n"
      "from django.test import RequestFactory\n"
      "req = RequestFactory().get('/', HTTP_HOST='localhost', HTTP_X_FORWARDED_PROTO='https',\n"
      "                           HTTP_X_FORWARDED_HOST='localhost', HTTP_X_FORWARDED_PORT='443')\n"
      "assert req.is_secure(), 'not secure'\n"
      "assert req.build_absolute_uri('/x') == 'https://localhost/x', req.build_absolute_uri('/x')\n"
      "bad = RequestFactory().get('/', HTTP_HOST='evil.example', HTTP_X_FORWARDED_HOST='evil.example')\n"
      "try:\n"
      "    bad.get_host()\n"
      "    sys.exit('evil.example was allowed')\n"
      "except DisallowedHost:\n"
      "    pass\n"
      "print('django ok')\n";
  ASSERT_TRUE(runCommand({"/usr/bin/python3", "-c", script, dir_.path()}, &py));
  EXPECT_EQ(py.exit_code, 0) << py.stderr_text << "\n" << r.stdout_text;
  EXPECT_EQ(py.stdout_text, "django ok\n") << py.stderr_text;

  r = run(config().toYaml(), {"django-settings", "--format", "gunicorn", "-c", "CONFIG"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  std::vector<std::string> argv = {"/usr/bin/python3", "-m", "gunicorn", "--check-config", "--chdir", dir_.path()};
  std::string flags = r.stdout_text.substr(0, r.stdout_text.find('\n'));
  for (size_t at = 0; at < flags.size();) {
    size_t end = flags.find(' ', at);
    if (end == std::string::npos) end = flags.size();
    argv.push_back(flags.substr(at, end - at));
    at = end + 1;
  }
  argv.push_back("site_wsgi:application");
  ASSERT_TRUE(runCommand(argv, &py));
  EXPECT_EQ(py.exit_code, 0) << flags << "\n" << py.stdout_text << py.stderr_text;
}

TEST_F(DjangoSettings, GunicornFormatIsOneLineOfFlags) {
  ProxyConfig c = config();
  c.upstreams[0].idle_timeout = "4s";
  c.timeouts.push_back({"upstream_response", "20s"});
  CommandResult r = run(c.toYaml(), {"django-settings", "--format", "gunicorn", "-c", "CONFIG"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "--forwarded-allow-ips=127.0.0.1 --timeout=25 --keep-alive=5\n");
}

TEST_F(DjangoSettings, CheckWarnsAtTheIdleTimeoutThatGunicornContradicts) {
  ProxyConfig c = config();
  c.upstreams[0].idle_timeout = "3s";
  const std::string yaml = c.toYaml();
  const int line = lineOf(yaml, "idle_timeout: 3s");
  ASSERT_GT(line, 0);
  CommandResult r = run(yaml, {"-c", "CONFIG", "-t"});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;  // a warning, not an error
  const std::regex warning("warning: " + config_path_ + ":" + std::to_string(line) +
                           ":[0-9]+: upstreams\\.app\\.idle_timeout 3s is not below gunicorn's default "
                           "--keep-alive \\(2s\\): make sure gunicorn runs with --keep-alive=4 or more");
  EXPECT_TRUE(std::regex_search(r.stderr_text, warning)) << r.stderr_text;

  // The default idle_timeout (1500ms) draws none.
  r = run(config().toYaml(), {"-c", "CONFIG", "-t"});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.stderr_text.find("warning: "), std::string::npos) << r.stderr_text;
}

TEST_F(DjangoSettings, BadConfigFailsWithTheErrorOfTheCheck) {
  const std::string yaml = config().toYaml() + "timeoutz: { client_header: 1s }\n";
  CommandResult check = run(yaml, {"-c", "CONFIG", "-t"});
  CommandResult r = run(yaml, {"django-settings", "-c", "CONFIG"});
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_EQ(r.exit_code, check.exit_code);
  EXPECT_EQ(r.stderr_text, check.stderr_text);
  EXPECT_NE(r.stderr_text.find(config_path_ + ":" + std::to_string(lineOf(yaml, "timeoutz:")) + ":"), std::string::npos)
      << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "");
}

TEST_F(DjangoSettings, UnknownFormatIsAUsageError) {
  CommandResult r = run(config().toYaml(), {"django-settings", "--format", "yaml", "-c", "CONFIG"});
  EXPECT_EQ(r.exit_code, 64) << r.stderr_text;
}

}  // namespace
}  // namespace portcullis::integration

#include "server/django_settings.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "base/log.h"
#include "config/django_profile.h"
#include "config/load.h"
#include "server/runtime_builder.h"

namespace portcullis::server {

namespace {
constexpr int kExitConfig = 2;  // as main.cc: a configuration error
}  // namespace

int djangoSettingsCommand(const std::string& config_path, const std::string& format) {
  auto loaded = config::loadFile(config_path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    return kExitConfig;
  }
  auto cfg = std::make_shared<const config::Config>(std::move(*loaded));
  // The same checks as -t and start-up: a config the proxy would refuse gets no settings.
  auto built = buildRuntime(cfg);
  if (!built) {
    std::fprintf(stderr, "%s\n", built.error().message.c_str());
    return kExitConfig;
  }
  for (const auto& w : built->warnings) base::log::warn(w);  // on stderr, as -t does
  std::vector<std::vector<std::string>> names(cfg->listeners.size());
  for (size_t i = 0; i < names.size() && i < built->tls.size(); ++i)
    if (built->tls[i]) names[i] = built->tls[i]->certificateNames();
  config::DjangoPart part = format == "settings"   ? config::DjangoPart::Settings
                            : format == "gunicorn" ? config::DjangoPart::Gunicorn
                                                   : config::DjangoPart::All;
  std::string text = config::djangoSettings(*cfg, names, part);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

void printDjangoWarnings(const config::Config& cfg) {
  for (const std::string& w : config::djangoWarnings(cfg)) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

}  // namespace portcullis::server

#pragma once
// `portcullis django-settings` and the Django warnings of `portcullis -t`: the CLI glue around
// config/django_profile.h (which holds the pure Config -> text generator and its tests).
#include <string>

#include "config/model.h"

namespace portcullis::server {

// Loads and checks `config_path` exactly as -t does (certificates, upstream names; the same
// "file:line:col: message" errors and exit code 2), then prints the settings on stdout: `format`
// "all" (settings.py, then the app servers' flags as comments), "settings" or "gunicorn" (one
// line of flags). Returns the exit code.
int djangoSettingsCommand(const std::string& config_path, const std::string& format);

// For -t: "warning: file:line:col: ..." on stderr for each setting a default gunicorn
// contradicts (see config::djangoWarnings).
void printDjangoWarnings(const config::Config& cfg);

}  // namespace portcullis::server

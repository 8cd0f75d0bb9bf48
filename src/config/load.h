#pragma once
// YAML -> Config. All structural and cross-field checks happen here (validate.cc); checks that
// need the outside world (reading certificates, resolving names, binding) are the server's, using
// the marks kept in the model. Errors are "file:line:col: message" (1-based).
#include <string>

#include "base/result.h"
#include "config/model.h"

namespace portcullis::config {

// Reads and validates `path`. Never throws.
base::Result<Config> loadFile(const std::string& path);
// Same, from text; `name` is used as the file in error positions and relative paths resolve
// against `base_dir`.
base::Result<Config> loadString(const std::string& yaml, const std::string& name,
                                const std::string& base_dir);

}  // namespace portcullis::config

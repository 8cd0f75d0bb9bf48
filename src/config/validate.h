#pragma once
// Cross-field rules over a Config whose fields are each already well-formed (the loader checked
// types, ranges and syntax): names and addresses unique, routes pointing at defined clusters.
// Kept apart from the loader so these rules need no YAML: they work on the marks in the model.
#include "base/result.h"
#include "config/model.h"

namespace portcullis::config {

// The first broken rule, as "file:line:col: message"; ok otherwise.
base::Result<void> validate(const Config& config);

}  // namespace portcullis::config

#include "config/model.h"

namespace portcullis::config {

std::string toString(const Mark& m) {
  // A mark with no line comes from an error that has no position (an unreadable file, or a
  // yaml-cpp exception with a null mark): print the file alone rather than a fake "0:0".
  if (m.line <= 0) return m.file;
  return m.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
}

// Linear: a handful of clusters, looked up when a snapshot is built, not per request.
const Upstream* Config::findUpstream(const std::string& name) const {
  for (const Upstream& u : upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

}  // namespace portcullis::config

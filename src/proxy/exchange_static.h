#pragma once
// The state of a request on a `static:` route (exchange_static.cc), kept by its Exchange across
// requests so its strings keep their capacity.
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "http/content_coding.h"
#include "http/static_file.h"
#include "net/file_io.h"

namespace portcullis::proxy {

struct StaticState {
  // --- Copied from the request head.
  const config::StaticFiles* cfg = nullptr;  // lives in the exchange's runtime snapshot
  std::string rel;      // the decoded name under cfg->root
  int pre_status = 0;   // decided from the head alone: 400, 403, 405 (0: open the file)
  bool head = false;    // HEAD: the head only
  bool fallback = false;  // a missing file goes to the route's upstream
  std::string if_match, if_none_match, if_modified_since, if_unmodified_since, range, if_range;
  http::AcceptEncoding accept;
  unsigned candidates = 0;  // codingBit()s of the precompressed siblings looked for
  std::string key;          // cache key scratch
  std::vector<net::OpenResult> cached;  // results found in the open-file cache

  // --- The response in progress.
  net::FileTask* task = nullptr;  // open or read on the thread pool; cancelled on teardown
  std::shared_ptr<const net::OpenFile> file;
  std::shared_ptr<std::vector<char>> buf;  // one 64 KiB chunk, reused
  uint64_t offset = 0;
  uint64_t remaining = 0;
  std::string etag, last_modified, cache_control, content_range;
  char length[24];

  http::Conditions conditions() const {
    http::Conditions c;
    c.if_match = if_match;
    c.if_none_match = if_none_match;
    c.if_modified_since = if_modified_since;
    c.if_unmodified_since = if_unmodified_since;
    c.range = range;
    c.if_range = if_range;
    return c;
  }
};

}  // namespace portcullis::proxy

#pragma once
// What a static file's response is, decided from the request and the file's facts with no I/O:
// the mapping of a URL path to a name under a root (every way out of the root refused),
// conditional requests, ranges, content types and caching. proxy/ does the I/O (open, stat and
// read on libuv's thread pool) and asks these functions what to send.
//
// Status rules (documented in README "Static files"):
//   400  malformed percent-encoding, NUL, an encoded '/' or '\' (%2f, %5c), a ".." segment
//   403  a dotfile or dot-directory segment (.env, .git/), a directory (never listed), a
//        symlink whose target leaves the root (unless allowed)
//   404  no such file (or `fallback: upstream` sends the request to the upstream instead)
//   405  a method other than GET and HEAD (with Allow: GET, HEAD)
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/content_coding.h"

namespace portcullis::http {

enum class PathCheck : uint8_t { Ok, BadRequest, Forbidden };

// `encoded` is the request path after the route's prefix, still percent-encoded, without the
// query ("css/app.css", "/css/app.css" or "" for the prefix itself). Ok: `out` holds the
// decoded relative name ("css/app.css"): no leading '/', no empty, "." or ".." segment, no NUL,
// and a trailing '/' kept (the caller answers a directory with 403). `out` is reused (no
// allocation once warm).
PathCheck mapStaticPath(std::string_view encoded, std::string& out);

// Content types by file extension.
class MimeTypes {
 public:
  // The built-in table (the types a web site serves), then the lines of `mime_types_file`
  // (/etc/mime.types format: "type ext1 ext2", '#' comments) where it has no entry of its own,
  // so the built-in web types (text/javascript for .js, per RFC 9239) win. A file that cannot
  // be read leaves the built-in table.
  static MimeTypes load(const std::string& mime_types_file = "/etc/mime.types");
  // The Content-Type for `file_name` (its extension after the last '.' of the last segment, any
  // case), with "; charset=utf-8" for text/*, JavaScript, JSON, XML and SVG;
  // "application/octet-stream" when unknown. The view lives as long as this object.
  std::string_view lookup(std::string_view file_name) const;
  size_t size() const { return by_ext_.size(); }

 private:
  std::unordered_map<std::string, std::string> by_ext_;  // lower-case extension -> value
};

// Django's ManifestStaticFilesStorage names ("app.3f2a9c1b7d4e.css") and bundlers' content
// hashes ("main.8f3a2b1c.js", "chunk-4e5f6a7b8c9d0e1f.js"): a '.'- or '-'-separated part of 8
// to 64 hex digits right before the extension. Such a file never changes under its name.
bool isHashedName(std::string_view file_name);

// "public, max-age=31536000, immutable" for hashed names, else "public, max-age=N".
void cacheControl(bool hashed, std::chrono::seconds max_age, std::string& out);

// What stat() says of a file.
struct FileFacts {
  uint64_t size = 0;
  int64_t mtime_sec = 0;
  int64_t mtime_nsec = 0;
};

// A strong validator: "\"<mtime seconds hex>-<size hex>\"" (nginx's shape), with "-br", "-zst"
// or "-gz" before the closing quote for a precompressed variant (`facts` are the variant's).
void makeEtag(const FileFacts& facts, Coding coding, std::string& out);
// IMF-fixdate of mtime_sec (RFC 9110 §5.6.7), for Last-Modified.
void lastModified(const FileFacts& facts, std::string& out);

// The request fields that decide a static response; empty when absent.
struct Conditions {
  std::string_view if_match;
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view if_unmodified_since;
  std::string_view range;
  std::string_view if_range;
};

enum class Outcome : uint8_t {
  Full,               // 200, the whole file
  NotModified,        // 304 (If-None-Match matches; or no If-None-Match and not modified since)
  Partial,            // 206, bytes [offset, offset + length)
  RangeNotSatisfiable,// 416, with Content-Range: bytes */size
  PreconditionFailed, // 412 (If-Match / If-Unmodified-Since fail)
};

struct Plan {
  Outcome outcome = Outcome::Full;
  uint64_t offset = 0;
  uint64_t length = 0;  // bytes to send (Full: size; Partial: the range; else 0)
};

// RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match (weak comparison; "*"
// matches), If-Modified-Since (only without If-None-Match; only for GET/HEAD, which are the only
// methods served), then Range (§14.2: one "bytes=" range, "a-b", "a-" or "-n"; If-Range must
// match the strong ETag or equal Last-Modified exactly, else the whole file). Several ranges, or
// a range unit other than bytes, or a malformed Range: the whole file (200), as the RFC allows.
// A range starting at or past the end: 416.
Plan planResponse(const Conditions& c, const FileFacts& facts, std::string_view etag);

// "bytes 0-9/1234" for a Partial plan; "bytes */1234" for RangeNotSatisfiable.
void contentRange(const Plan& plan, uint64_t size, std::string& out);

}  // namespace portcullis::http

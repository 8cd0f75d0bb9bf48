#include "http/parser.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "http/uri.h"

namespace portcullis::http {
namespace {

// What went wrong, if anything; the parsers copy it into error_/detail_.
struct Failure {
  ParseError error = ParseError::None;
  const char* detail = "";
  bool failed() const { return error != ParseError::None; }
};

Failure badRequest(const char* detail) { return {ParseError::BadRequest, detail}; }

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
// "_" / "`" / "|" / "~" / DIGIT / ALPHA.
constexpr std::array<bool, 256> makeTcharTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = makeTcharTable();

bool isTchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTchar(c)) return false;
  }
  return true;
}

// Bytes the head scanner has nothing to decide about once inside a line: everything but the
// forbidden controls, which include CR and LF. Runs of them are skipped in a tight loop (most
// of a head is such bytes).
constexpr std::array<bool, 256> makePlainTable() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = !isForbiddenControl(static_cast<char>(c));
  return t;
}
constexpr std::array<bool, 256> kPlain = makePlainTable();

enum class ScanStatus : uint8_t { NeedMore, Complete, Error };

// First index in [i, end) whose byte is not plain (kPlain), or `end`. Eight bytes at a time:
// most of a head is such bytes, and the byte loop (~5 instructions a byte) was most of the
// scan's cost. A word is plain unless a byte is below 0x20 or is 0x7f (the exact "has a byte
// less than n" and "has a zero byte" tests); its first such byte is found by the lowest flag,
// which borrows cannot reach. Tab is plain but below 0x20: it stops the word test and is
// stepped over.
size_t skipPlain(std::string_view in, size_t i, size_t end) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= end) {
      uint64_t w;
      std::memcpy(&w, in.data() + i, 8);
      uint64_t x = w ^ (kOnes * 0x7f);
      uint64_t stop = ((w - kOnes * 0x20) & ~w & kHigh) | ((x - kOnes) & ~x & kHigh);
      if (stop == 0) {
        i += 8;
        continue;
      }
      i += static_cast<size_t>(std::countr_zero(stop)) / 8;
      if (in[i] != '\t') return i;
      ++i;
    }
  }
  while (i < end && kPlain[static_cast<unsigned char>(in[i])]) ++i;
  return i;
}

// Contract: examines input[pos..) one byte at a time, advancing `pos` and `s`, until the blank
// line ending the head is found (Complete; s.head_end set), the input runs out (NeedMore), or a
// byte proves the head invalid (Error, `f` set). Every decision depends only on the bytes up to
// the one being examined, so the outcome is the same however the input was split across calls,
// and limits fire as soon as they are exceeded instead of after the peer finishes sending.
//
// Checked here (cheap, per byte): CRLF structure, control characters, limits, obs-fold, and
// for requests the method characters (so binary garbage, e.g. TLS sent to port 80, gets a 400
// at once). The grammar of each line is checked afterwards by the head parsers. Also noted for
// them: where the request line's CR is and whether its method ended at a SP.
ScanStatus scanHead(std::string_view in, size_t& pos, detail::HeadScan& s,
                    const ParserLimits& limits, bool request, Failure& f) {
  if (pos > in.size()) {  // the caller broke the "all unconsumed bytes" contract: start over
    pos = 0;
    s = {};
  }
  for (size_t i = pos; i < in.size(); ++i) {
    // Fast paths, after a byte that was not CR: runs of bytes the checks below would pass
    // without changing any state are skipped, bounded by the limits. Inside a request's method
    // those are tchars (from the line's first byte on), and the SP ending it only sets
    // method_end; elsewhere plain bytes, except at the first byte of a field line, where only a
    // plain non-OWS byte (no obs-fold) is passed over. The byte that stops a run (or sits at a
    // limit) then goes through the full checks below.
    if (i == 0 || in[i - 1] != '\r') {
      size_t end = std::min(in.size(), static_cast<size_t>(limits.header_bytes));
      bool in_request_line = request && s.lines == 0;
      if (in_request_line) end = std::min(end, static_cast<size_t>(s.line_start + limits.request_line));
      bool plain_run = true;
      if (in_request_line && s.method_end == 0) {
        while (i < end && kTchar[static_cast<unsigned char>(in[i])]) ++i;
        if (i < end && in[i] == ' ' && i > s.line_start) s.method_end = i++;
        else plain_run = false;
      } else if (i == s.line_start && s.lines > 0) {
        if (i < end && kPlain[static_cast<unsigned char>(in[i])] && !isOws(in[i])) ++i;
        else plain_run = false;
      }
      if (plain_run) i = skipPlain(in, i, end);
      if (i == in.size()) break;
    }
    char c = in[i];
    bool prev_cr = i > 0 && in[i - 1] == '\r';
    if (c == '\r' && !prev_cr && i + 1 < in.size() && in[i + 1] == '\n' &&
        i + 1 < limits.header_bytes) {
      // A CRLF whose CR passes every check below (the length limits do not apply to it, and it
      // is inside header_bytes since its LF is): go straight on with the LF.
      c = in[++i];
      prev_cr = true;
    }
    if (request && s.lines == 0 && c != '\r' && c != '\n' &&
        i - s.line_start >= limits.request_line) {
      f = {ParseError::UriTooLong, "request line too long"};
      return ScanStatus::Error;
    }
    if (i >= limits.header_bytes) {
      f = {ParseError::HeaderTooLarge, "header section too large"};
      return ScanStatus::Error;
    }
    // RFC 9112 §2.2: a bare CR must be rejected (or replaced); a bare LF line ending we reject
    // too, since only strict CRLF keeps us agreeing with every upstream on where lines end.
    if (prev_cr && c != '\n') {
      f = badRequest("bare CR in header section");
      return ScanStatus::Error;
    }
    if (c == '\n') {
      if (!prev_cr) {
        f = badRequest("bare LF in header section");
        return ScanStatus::Error;
      }
      bool empty_line = i - 1 == s.line_start;
      if (empty_line && s.lines == 0) {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request
        // line. These bytes still count towards header_bytes, which bounds how many we skip.
        if (!request) {
          f = badRequest("empty line before status line");
          return ScanStatus::Error;
        }
        s.line_start = s.head_start = i + 1;
        continue;
      }
      if (empty_line) {
        s.head_end = i + 1;
        pos = i + 1;
        return ScanStatus::Complete;
      }
      if (s.lines == 0) s.first_line_end = i - 1;
      ++s.lines;
      if (s.lines - 1 > limits.header_count) {
        f = {ParseError::HeaderTooLarge, "too many header fields"};
        return ScanStatus::Error;
      }
      s.line_start = i + 1;
      continue;
    }
    if (c == '\r') continue;
    if (isForbiddenControl(c)) {
      f = badRequest("control character in header section");
      return ScanStatus::Error;
    }
    if (i == s.line_start && s.lines > 0 && isOws(c)) {
      // RFC 9112 §5.2: obs-fold is deprecated; a server MUST reject it (or replace it) unless
      // within message/http. Also covers whitespace before the first field (RFC 9112 §2.2).
      f = badRequest("obsolete line folding");
      return ScanStatus::Error;
    }
    if (request && s.lines == 0 && s.method_end == 0) {
      if (c == ' ' && i > s.line_start) {
        s.method_end = i;
      } else if (!isTchar(c)) {
        f = badRequest("invalid method");
        return ScanStatus::Error;
      }
    }
  }
  pos = in.size();
  return ScanStatus::NeedMore;
}

// Returns the minor version for "HTTP/1.0" and "HTTP/1.1"; -1 for any other well-formed
// "HTTP/x.y" (505); -2 for anything else (400). RFC 9112 §2.3: the name is case-sensitive.
int classifyVersion(std::string_view v) {
  if (v.size() == 8 && std::memcmp(v.data(), "HTTP/1.1", 8) == 0) return 1;  // nearly every request
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' ||
      !isDigit(v[7])) {
    return -2;
  }
  if (v[5] == '1' && (v[7] == '0' || v[7] == '1')) return v[7] - '0';
  return -1;
}

// Why a field line is malformed (the rules, in the order they are applied).
Failure fieldLineError(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return badRequest("header line without colon");
  std::string_view name = line.substr(0, colon);
  if (name.empty()) return badRequest("empty header name");
  // RFC 9112 §5.1: no whitespace is allowed between the field name and colon; a server MUST
  // reject it with 400, since other parsers may strip it and see a different header.
  if (isOws(name.back())) return badRequest("whitespace between header name and colon");
  return badRequest("invalid header name");
}

// Parses the field lines between the start line and the blank line. `lines` is everything after
// the start line's CRLF, up to and including the final CRLF; the scan has already guaranteed
// CRLF endings (so a line's first CR is its end), no control characters and no obs-fold. A
// well-formed line is a run of tchars up to its colon: one pass finds the name and checks it;
// anything else is handed to fieldLineError.
Failure parseFieldLines(std::string_view lines, std::vector<Header>& headers) {
  const char* p = lines.data();
  const char* const end = p + lines.size();
  while (true) {
    const auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
    if (cr == p || cr == nullptr) return {};
    std::string_view line(p, static_cast<size_t>(cr - p));
    p = cr + 2;
    size_t n = 0;
    while (isTchar(line[n])) ++n;  // stops at the line's CR at the latest
    if (n == 0 || n == line.size() || line[n] != ':') return fieldLineError(line);
    headers.push_back(Header{line.substr(0, n), trimOws(line.substr(n + 1))});
  }
}

// Header names are tokens, which hold no CR, so for a lower-case literal of letters and '-'
// (b | 0x20) is ASCII case folding: it maps 'A'-'Z' to 'a'-'z', and the only other byte it
// maps onto a letter or '-' is CR (onto '-'). One OR a byte and no call, where iequals called
// out of line (~66 instructions for "Host").
template <size_t N>
bool nameIs(std::string_view name, const char (&lower)[N]) {
  if (name.size() != N - 1) return false;
  for (size_t i = 0; i + 1 < N; ++i) {
    if ((name[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// Folds one Content-Length field value into `length`. RFC 9110 §8.6: 1*DIGIT; a list of
// identical values (from a proxy that merged fields) may be taken as one, differing values are an
// error (RFC 9112 §6.3 item 5). Values above INT64_MAX are refused so every layer can hold them
// in an off_t. Empty elements are refused too: nothing legitimate sends "5,".
bool foldContentLength(std::string_view value, bool& seen, uint64_t& length) {
  constexpr uint64_t kMax = INT64_MAX;
  return forEachListElement(value, [&](std::string_view element) {
    if (element.empty()) return false;
    uint64_t v = 0;
    for (char c : element) {
      if (!isDigit(c)) return false;
      auto d = static_cast<uint64_t>(c - '0');
      if (v > (kMax - d) / 10) return false;
      v = v * 10 + d;
    }
    if (seen && v != length) return false;
    seen = true;
    length = v;
    return true;
  });
}

// Transfer codings of all Transfer-Encoding fields, in order (RFC 9112 §6.1).
struct Codings {
  size_t count = 0;
  size_t chunked = 0;
  bool last_is_chunked = false;
  bool has_empty = false;
  bool malformed = false;
};

void foldTransferCodings(std::string_view value, Codings& c) {
  (void)forEachListElement(value, [&](std::string_view element) {
    if (element.empty()) {
      c.has_empty = true;
      return true;
    }
    // transfer-coding = token *( OWS ";" OWS transfer-parameter ); chunked takes no parameters.
    size_t semi = element.find(';');
    std::string_view name = trimOws(element.substr(0, semi));
    bool chunked = iequals(name, "chunked");
    if (!isToken(name) || (chunked && semi != std::string_view::npos)) c.malformed = true;
    ++c.count;
    if (chunked) ++c.chunked;
    c.last_is_chunked = chunked;
    return true;
  });
}

void splitPathQuery(std::string_view t, RequestHead& out) {
  size_t q = t.find('?');
  out.path = t.substr(0, q);
  if (q != std::string_view::npos) {
    out.has_query = true;
    out.query = t.substr(q + 1);
  }
}

// What a request line's byte after the method's SP is to the target: VCHAR (which it may hold),
// '?' (the same, and where the query starts), SP (its end), or anything else (refused). VCHAR
// only because '#' is refused too: a fragment is never part of a request-target (RFC 9112
// §3.2), and upstreams disagree on whether to strip it before routing.
enum TargetByte : uint8_t { kTargetChar, kTargetQuery, kTargetEnd, kTargetBad };
constexpr std::array<uint8_t, 256> kTargetByte = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = (c <= 0x20 || c >= 0x7f) ? kTargetBad : kTargetChar;
  t['#'] = kTargetBad;
  t['?'] = kTargetQuery;
  t[' '] = kTargetEnd;
  return t;
}();

// The target's facts found by the pass that finds its end (parseRequestHead), so that nothing
// reads its bytes twice.
struct TargetScan {
  size_t query = std::string_view::npos;  // the first '?'
  bool bad_char = false;                   // a byte that is not VCHAR, or '#'
};

// RFC 9112 §3.2: origin-form for everything, absolute-form (which a server MUST accept, §3.2.2),
// asterisk-form only for OPTIONS (§3.2.4) and authority-form only for CONNECT (§3.2.3).
// `authority` receives the absolute-form's authority, empty otherwise.
Failure parseTarget(RequestHead& out, const TargetScan& scan, std::string_view& authority) {
  std::string_view t = out.target;
  if (scan.bad_char) return badRequest("invalid character in request-target");
  if (out.method == Method::Connect) {
    auto a = parseAuthority(t);
    if (!a || a->port.empty()) return badRequest("CONNECT needs an authority-form target");
    return {};
  }
  if (t.front() == '/') {
    out.path = t.substr(0, scan.query);
    if (scan.query != std::string_view::npos) {
      out.has_query = true;
      out.query = t.substr(scan.query + 1);
    }
    return {};
  }
  if (t == "*") {
    if (out.method != Method::Options) return badRequest("asterisk-form is only for OPTIONS");
    out.path = t;
    return {};
  }
  size_t sep = t.find("://");
  if (sep == std::string_view::npos ||
      !(iequals(t.substr(0, sep), "http") || iequals(t.substr(0, sep), "https"))) {
    return badRequest("unsupported request-target form");
  }
  std::string_view rest = t.substr(sep + 3);
  size_t end = rest.find_first_of("/?");
  authority = rest.substr(0, end);
  // parseAuthority refuses '@', so userinfo ("http://user@host/") is rejected here as RFC 9110
  // §4.2.4 asks of recipients that would otherwise have to deal with it.
  if (!parseAuthority(authority)) return badRequest("invalid authority in request-target");
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (rest.empty() || rest.front() == '?') {
    // RFC 9112 §3.2.1: an empty path is sent as "/" in origin-form. A view of a literal is
    // fine: it has static storage.
    out.path = "/";
    size_t q = rest.find('?');
    if (q != std::string_view::npos) {
      out.has_query = true;
      out.query = rest.substr(q + 1);
    }
  } else {
    splitPathQuery(rest, out);
  }
  return {};
}

// `scan` is the completed scan of `head`: it found where the request line ends, and where its
// first SP is (the method before it already checked, byte by byte, to be a token).
Failure parseRequestHead(std::string_view head, const detail::HeadScan& scan, RequestHead& out) {
  std::string_view line = head.substr(scan.head_start, scan.first_line_end - scan.head_start);
  std::string_view rest = head.substr(scan.first_line_end + 2);

  // RFC 9112 §3: method SP request-target SP HTTP-version, single SPs. Extra spaces make parsers
  // disagree on what the target is, so they are errors, not whitespace to skip.
  if (scan.method_end == 0) return badRequest("malformed request line");
  size_t sp1 = scan.method_end - scan.head_start;
  std::string_view after = line.substr(sp1 + 1);
  TargetScan target;
  // `after` is followed in `head` by the request line's CR, which is no kTargetChar: the run
  // of ordinary target bytes needs no bounds check.
  const char* a = after.data();
  size_t sp2 = 0;
  while (true) {
    while (kTargetByte[static_cast<unsigned char>(a[sp2])] == kTargetChar) ++sp2;
    if (sp2 == after.size()) return badRequest("malformed request line");
    uint8_t k = kTargetByte[static_cast<unsigned char>(a[sp2])];
    if (k == kTargetEnd) break;
    if (k == kTargetBad) target.bad_char = true;
    else if (target.query == std::string_view::npos) target.query = sp2;
    ++sp2;
  }
  out.method_text = line.substr(0, sp1);
  out.target = after.substr(0, sp2);
  std::string_view version = after.substr(sp2 + 1);
  int minor = classifyVersion(version);
  if (minor == -1) return {ParseError::VersionNotSupported, "unsupported HTTP version"};
  if (minor < 0) return badRequest("malformed HTTP version");
  out.version_minor = minor;
  if (out.target.empty()) return badRequest("malformed request line");
  out.method = methodFromText(out.method_text);
  std::string_view target_authority;
  if (Failure f = parseTarget(out, target, target_authority); f.failed()) return f;

  if (Failure f = parseFieldLines(rest, out.headers); f.failed()) return f;

  bool has_cl = false;
  Codings te;
  bool has_te = false;
  size_t host_count = 0;
  std::string_view host;
  bool conn_close = false;
  bool conn_keep_alive = false;
  for (const Header& h : out.headers) {
    if (nameIs(h.name, "content-length")) {
      if (!foldContentLength(h.value, has_cl, out.content_length)) {
        return badRequest("invalid or conflicting Content-Length");
      }
    } else if (nameIs(h.name, "transfer-encoding")) {
      has_te = true;
      foldTransferCodings(h.value, te);
    } else if (nameIs(h.name, "host")) {
      ++host_count;
      host = h.value;
    } else if (nameIs(h.name, "connection")) {
      conn_close = conn_close || listContains(h.value, "close");
      conn_keep_alive = conn_keep_alive || listContains(h.value, "keep-alive");
    } else if (nameIs(h.name, "expect")) {
      out.expect_continue = out.expect_continue || (minor == 1 && iequals(h.value, "100-continue"));
    }
  }

  // Framing, RFC 9112 §6.3. Every ambiguity is a 400 and a closed connection: a proxy that
  // guesses differently from its upstream is a request-smuggling hole (§11.2).
  if (has_te) {
    if (has_cl) return badRequest("both Transfer-Encoding and Content-Length");  // §6.3 item 3
    if (minor == 0) return badRequest("Transfer-Encoding in an HTTP/1.0 request");  // §6.1
    // Only a lone "chunked" is accepted: we implement no other coding, and a request whose final
    // coding is not chunked has no determinable length (§6.3 item 4).
    if (te.count != 1 || te.chunked != 1 || te.has_empty || te.malformed) {
      return badRequest("unsupported Transfer-Encoding");
    }
    out.framing = Framing::Chunked;
  } else if (has_cl) {
    out.framing = Framing::ContentLength;
  }

  // Host, RFC 9112 §3.2: an HTTP/1.1 request without Host, or with several, or with an invalid
  // one, gets a 400. An empty Host is legal only without an authority, which a reverse proxy
  // cannot route, so 1.1 needs a real one; 1.0 clients may omit it.
  if (host_count > 1) return badRequest("multiple Host headers");
  if (host_count == 1 && !host.empty() && !parseAuthority(host)) return badRequest("invalid Host");
  if (minor == 1 && (host_count == 0 || host.empty())) return badRequest("missing or empty Host");
  if (!target_authority.empty()) {
    // §3.2.2 says to ignore Host in favour of the target. We also refuse a mismatch, so an
    // upstream that routes by the Host header it receives cannot be steered elsewhere.
    if (!host.empty() && !iequals(host, target_authority)) {
      return badRequest("Host does not match the request-target");
    }
    out.host = target_authority;
  } else {
    out.host = host;
  }

  // RFC 9112 §9.3: 1.1 is persistent unless "close"; 1.0 only with "keep-alive".
  out.keep_alive = minor == 1 ? !conn_close : (conn_keep_alive && !conn_close);
  return {};
}

Failure parseResponseHead(std::string_view head, Method request_method, ResponseHead& out) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::string_view rest = head.substr(eol + 2);

  // RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason-phrase]. A missing final SP with an empty
  // reason ("HTTP/1.1 200") is accepted: some servers send it and it is unambiguous.
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return badRequest("malformed status line");
  int minor = classifyVersion(line.substr(0, sp));
  if (minor == -1) return {ParseError::VersionNotSupported, "unsupported HTTP version"};
  if (minor < 0) return badRequest("malformed HTTP version");
  out.version_minor = minor;
  std::string_view after = line.substr(sp + 1);
  if (after.size() < 3 || !isDigit(after[0]) || !isDigit(after[1]) || !isDigit(after[2]) ||
      (after.size() > 3 && after[3] != ' ')) {
    return badRequest("malformed status code");
  }
  out.status = (after[0] - '0') * 100 + (after[1] - '0') * 10 + (after[2] - '0');
  if (out.status < 100 || out.status > 599) return badRequest("status code out of range");
  out.reason = after.size() > 4 ? after.substr(4) : std::string_view();

  if (Failure f = parseFieldLines(rest, out.headers); f.failed()) return f;

  bool has_cl = false;
  Codings te;
  bool has_te = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool bodiless = request_method == Method::Head || out.status < 200 || out.status == 204 ||
                  out.status == 304;
  for (const Header& h : out.headers) {
    if (nameIs(h.name, "connection")) {
      conn_close = conn_close || listContains(h.value, "close");
      conn_keep_alive = conn_keep_alive || listContains(h.value, "keep-alive");
    } else if (bodiless) {
      // RFC 9112 §6.3 item 1: these responses end at the blank line whatever CL/TE say (for HEAD
      // and 304 they describe the representation, and are forwarded as sent).
    } else if (nameIs(h.name, "content-length")) {
      if (!foldContentLength(h.value, has_cl, out.content_length)) {
        return badRequest("invalid or conflicting Content-Length");
      }
    } else if (nameIs(h.name, "transfer-encoding")) {
      has_te = true;
      foldTransferCodings(h.value, te);
    }
  }

  if (bodiless) {
    out.framing = Framing::None;
    out.content_length = 0;
  } else if (has_te) {
    // §6.3 item 3 lets TE override CL, but an upstream sending both is broken or compromised;
    // refusing (502) is safer than picking one.
    if (has_cl) return badRequest("both Transfer-Encoding and Content-Length");
    // §6.1: TE in an HTTP/1.0 message means faulty framing.
    if (minor == 0) return badRequest("Transfer-Encoding in an HTTP/1.0 response");
    if (te.count == 0 || te.malformed) return badRequest("malformed Transfer-Encoding");
    if (te.chunked > 1) return badRequest("chunked applied more than once");  // §6.1 MUST NOT
    // §6.3 item 4: chunked last -> chunked; otherwise the body runs until the connection closes.
    out.framing = te.last_is_chunked ? Framing::Chunked : Framing::UntilClose;
  } else if (has_cl) {
    out.framing = Framing::ContentLength;
  } else {
    out.framing = Framing::UntilClose;  // §6.3 item 8
  }

  out.keep_alive = minor == 1 ? !conn_close : (conn_keep_alive && !conn_close);
  if (out.framing == Framing::UntilClose) out.keep_alive = false;  // the close ends the body
  return {};
}

}  // namespace

ParseStatus RequestParser::fail(ParseError error, const char* detail) {
  error_ = error;
  detail_ = detail;
  return ParseStatus::Error;
}

ParseStatus ResponseParser::fail(ParseError error, const char* detail) {
  error_ = error;
  detail_ = detail;
  return ParseStatus::Error;
}

ParseStatus RequestParser::parse(std::string_view input, RequestHead& out) {
  if (error_ != ParseError::None) return ParseStatus::Error;
  if (scan_.head_end == 0 || scan_.head_end > input.size()) {
    Failure f;
    switch (scanHead(input, scanned_, scan_, limits_, /*request=*/true, f)) {
      case ScanStatus::NeedMore: return ParseStatus::NeedMore;
      case ScanStatus::Error: return fail(f.error, f.detail);
      case ScanStatus::Complete: break;
    }
  }
  out.clear();
  Failure f = parseRequestHead(input.substr(0, scan_.head_end), scan_, out);
  if (f.failed()) return fail(f.error, f.detail);
  out.head_bytes = scan_.head_end;
  return ParseStatus::Complete;
}

ParseStatus ResponseParser::parse(std::string_view input, Method request_method, ResponseHead& out) {
  if (error_ != ParseError::None) return ParseStatus::Error;
  if (scan_.head_end == 0 || scan_.head_end > input.size()) {
    Failure f;
    switch (scanHead(input, scanned_, scan_, limits_, /*request=*/false, f)) {
      case ScanStatus::NeedMore: return ParseStatus::NeedMore;
      case ScanStatus::Error: return fail(f.error, f.detail);
      case ScanStatus::Complete: break;
    }
  }
  out.clear();
  Failure f = parseResponseHead(input.substr(0, scan_.head_end), request_method, out);
  if (f.failed()) return fail(f.error, f.detail);
  out.head_bytes = scan_.head_end;
  return ParseStatus::Complete;
}

}  // namespace portcullis::http

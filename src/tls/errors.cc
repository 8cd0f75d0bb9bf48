#include "tls/errors.h"

#include <openssl/err.h>

namespace portcullis::tls {

std::string takeErrorText(std::string_view fallback) {
  uint32_t first = ERR_get_error();
  if (first == 0) return std::string(fallback);
  clearErrors();  // The rest are the same failure seen from higher layers; drop them.

  const char* lib = ERR_lib_error_string(first);
  const char* reason = ERR_reason_error_string(first);
  if (ERR_GET_LIB(first) == ERR_LIB_SYS && reason) return reason;  // strerror text
  if (lib && reason) return std::string(lib) + ": " + reason;
  // Unknown library or reason: the packed form is still greppable in BoringSSL's sources.
  char buf[256];
  ERR_error_string_n(first, buf, sizeof buf);
  return buf;
}

base::Error takeError(std::string_view what) {
  std::string text = takeErrorText();
  std::string message;
  message.reserve(what.size() + 2 + text.size());
  message.append(what).append(": ").append(text);
  return base::makeError(std::move(message));
}

uint32_t peekFirstError() { return ERR_peek_error(); }

void clearErrors() { ERR_clear_error(); }

base::Error failWith(std::string message) {
  clearErrors();
  return base::makeError(std::move(message));
}

}  // namespace portcullis::tls

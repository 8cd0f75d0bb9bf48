#pragma once
// The key a `hash` balancing policy hashes for one request: the client address, a header's
// value or a cookie's (empty: none, and the balancer picks as if unhashed).
#include <string>
#include <string_view>

#include "config/model.h"
#include "http/message.h"

namespace portcullis::proxy {

// Writes the key into `out` (cleared first; its capacity is reused). Nothing for other policies.
void hashKeyFor(const config::Upstream& u, const http::RequestHead& req, std::string_view client_ip,
                std::string& out);

}  // namespace portcullis::proxy

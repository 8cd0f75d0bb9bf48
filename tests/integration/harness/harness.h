#pragma once
// Everything a test file needs from the harness.
#include "harness/client_connection.h"
#include "harness/fake_upstream.h"
#include "harness/http_message.h"
#include "harness/proxy_process.h"
#include "harness/raw_client.h"
#include "harness/test_util.h"
#include "harness/tls_client.h"
#include "harness/tls_upstream.h"

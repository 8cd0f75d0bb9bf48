#pragma once
// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram per state change
// to the AF_UNIX socket named by $NOTIFY_SOCKET. Type=notify units need READY=1 before systemd
// counts the start as done; outside systemd the variable is unset and every call is a no-op.
#include <string>

namespace portcullis::server::sd {

// Sends `state` ("READY=1", "STOPPING=1", lines joined by '\n'). Best effort: a failure is
// logged at debug and returns false; the proxy runs the same either way.
bool notify(const std::string& state);

// "READY=1\nMAINPID=<pid>": listeners bound, workers running (start, and the end of a reload).
bool ready();
// "RELOADING=1\nMONOTONIC_USEC=<now>": systemd (253+) matches the timestamp to its reload job.
bool reloading();
// "STOPPING=1": draining on SIGTERM/SIGINT.
bool stopping();

}  // namespace portcullis::server::sd

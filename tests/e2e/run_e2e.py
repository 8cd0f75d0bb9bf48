#!/usr/bin/env python3
"""End-to-end: Portcullis as the whole front end of a Django + MariaDB site.

Starts a private MariaDB, three gunicorn servers of tests/e2e/djapp and Portcullis (the binary
in $PORTCULLIS_BIN) on loopback, then drives the site over TLS through the proxy. Every process
is started in a session of its own and stopped by its PID (its process group, so a gunicorn
master and its worker go together). Standard library only on the driver side; the app servers
run under an interpreter that has Django, MySQLdb and gunicorn (Debian's /usr/bin/python3, or
$E2E_PYTHON).

  PORTCULLIS_BIN=build/portcullis python3 tests/e2e/run_e2e.py [-v] [unittest args]

The proxy serves /static/ itself (a static: route over the collectstatic output).
E2E_KEEP=1 keeps the temp directory (logs, config) for a post-mortem.
"""
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.cookies import SimpleCookie

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DJAPP = os.path.join(HERE, "djapp")

SERVER_NAMES = ("app1", "app2", "app3")
DB_NAME = "e2e"
DB_USER = "django"
DB_PASSWORD = "e2e-db-password"
SITE_USER = "alice"
SITE_PASSWORD = "correct horse battery staple"
UPSTREAM_RESPONSE_TIMEOUT_S = 2  # the proxy's upstream_response; gunicorn's --timeout is 30


def log(msg):
    sys.stderr.write("[e2e %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fatal(RuntimeError):
    """Raised by a wait_until predicate when waiting longer cannot help (a process exited)."""


def wait_until(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except Fatal:
            raise
        except Exception as e:  # noqa: BLE001 - the predicate's failure is retried, then reported
            last_exc = e
        time.sleep(interval)
    raise TimeoutError("timed out after %.1fs waiting for %s%s" % (
        timeout, what, " (last error: %r)" % (last_exc,) if last_exc else ""))


def find_app_python():
    """An interpreter that can import django, MySQLdb and gunicorn."""
    candidates = [os.environ.get("E2E_PYTHON"), sys.executable, "/usr/bin/python3"]
    for py in candidates:
        if not py or not os.path.exists(py):
            continue
        r = subprocess.run([py, "-c", "import django, MySQLdb, gunicorn"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        if r.returncode == 0:
            return py
    raise RuntimeError("no python3 with django, MySQLdb and gunicorn (apt-get install "
                       "python3-django python3-mysqldb gunicorn), tried %s" % candidates)


try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # loaded here, never in a forked child
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_driver():
    """In the child before exec: SIGKILL it if the driver dies (a ctest timeout kills the driver
    with no chance to clean up; the children are in sessions of their own)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class Proc:
    """A child process in its own session; stop() signals its process group by its PID."""

    def __init__(self, name, argv, logdir, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(logdir, "%s.log" % name)
        with open(self.log_path, "ab") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=env, cwd=cwd, start_new_session=True,
                                          preexec_fn=_die_with_driver)
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)  # the group of the process we started: pgid == its pid
        except ProcessLookupError:
            pass

    def kill(self):
        """SIGKILL, as a crash: the whole group, then reap."""
        self.signal_group(signal.SIGKILL)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout=15):
        """SIGTERM, wait, SIGKILL after the deadline. Returns the exit status (None if killed)."""
        if self.running():
            self.signal_group(signal.SIGTERM)
            try:
                return self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log("%s (pid %d) ignored SIGTERM for %ds: SIGKILL" % (self.name, self.pid, timeout))
                self.kill()
                return None
        # The leader is gone; make sure no straggler of its group survives.
        self.signal_group(signal.SIGKILL)
        return self.popen.returncode

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.headers, self.body[:300])


class TlsToLocalhost(http.client.HTTPConnection):
    """HTTPS to 127.0.0.1:port with SNI and certificate name "localhost" (no IPv6 lookup)."""

    def __init__(self, port, context, timeout):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self._context = context

    def connect(self):
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname="localhost")


class Client:
    """A browser-ish client: one keep-alive connection, a cookie jar, Host: localhost:PORT."""

    def __init__(self, port, context=None, timeout=20):
        self.port = port
        self.origin = ("https" if context else "http") + "://localhost:%d" % port
        self.context = context
        self.timeout = timeout
        self.cookies = {}
        self.cookie_attrs = {}
        self.conn = None

    def _connection(self):
        if self.conn is None:
            if self.context:
                self.conn = TlsToLocalhost(self.port, self.context, self.timeout)
            else:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, cookies=True):
        h = {"Host": "localhost:%d" % self.port}
        if cookies and self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn = self._connection()
        t0 = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
        except Exception:
            self.close()
            raise
        resp = Response(r.status, r.getheaders(), data, time.monotonic() - t0)
        if r.will_close:
            self.close()
        for sc in resp.all("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(sc)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
                self.cookie_attrs[name] = morsel
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post_form(self, path, fields, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded",
             "Origin": self.origin, "Referer": self.origin + path}
        h.update(headers or {})
        return self.request("POST", path, body=urllib.parse.urlencode(fields), headers=h)

    def login(self, username=SITE_USER, password=SITE_PASSWORD):
        page = self.get("/accounts/login/")
        if page.status != 200:
            raise AssertionError("GET /accounts/login/: %r" % page)
        token = csrf_token_of(page)
        return self.post_form("/accounts/login/", {
            "csrfmiddlewaretoken": token, "username": username, "password": password, "next": ""})


def csrf_token_of(resp):
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', resp.text())
    if not m:
        raise AssertionError("no csrfmiddlewaretoken in the page: %r" % resp)
    return m.group(1)


class Stack:
    """MariaDB + three gunicorn servers + Portcullis, in one temp directory."""

    def __init__(self):
        self.bin = os.environ.get("PORTCULLIS_BIN")
        if not self.bin or not os.access(self.bin, os.X_OK):
            raise RuntimeError("PORTCULLIS_BIN must name the portcullis binary (got %r)" % self.bin)
        self.bin = os.path.abspath(self.bin)
        self.tmp = tempfile.mkdtemp(prefix="portcullis-e2e.")
        self.logdir = os.path.join(self.tmp, "logs")
        os.makedirs(self.logdir)
        self.mariadb = None
        self.apps = {}  # name -> Proc
        self.app_ports = {}  # name -> port
        self.old_apps = []  # every gunicorn ever started, stopped again at the end
        self.proxy = None
        self.proxy_exit = None
        self.py = find_app_python()

    # ----- MariaDB -----
    def start_mariadb(self):
        datadir = os.path.join(self.tmp, "mariadb")
        self.db_socket = os.path.join(self.tmp, "mariadb.sock")
        root = ["--user=root"] if os.geteuid() == 0 else []
        lean = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M"]
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        server = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
        if not install:
            raise RuntimeError("mariadb-install-db not found (apt-get install mariadb-server)")
        t0 = time.monotonic()
        r = subprocess.run([install, "--no-defaults", "--datadir=" + datadir,
                            "--auth-root-authentication-method=normal", "--skip-test-db"] + root + lean,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db failed:\n" + r.stdout.decode("utf-8", "replace"))
        self.mariadb = Proc("mariadbd", [
            server, "--no-defaults", "--datadir=" + datadir, "--socket=" + self.db_socket,
            "--port=%d" % self.db_port, "--bind-address=127.0.0.1", "--skip-name-resolve",
            "--pid-file=" + os.path.join(self.tmp, "mariadb.pid"), "--tmpdir=" + self.tmp,
            "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0", "--performance-schema=OFF",
            "--log-error=" + os.path.join(self.logdir, "mariadb-error.log")] + root + lean, self.logdir)
        # Root over the socket (no password: --auth-root-authentication-method=normal) makes the
        # database and the app's own user, which Django then uses over TCP.
        sql = ("CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4; "
               "CREATE USER IF NOT EXISTS '%s'@'127.0.0.1' IDENTIFIED BY '%s'; "
               "GRANT ALL ON %s.* TO '%s'@'127.0.0.1';" % (DB_NAME, DB_USER, DB_PASSWORD, DB_NAME, DB_USER))
        setup = ("import MySQLdb, sys\n"
                 "c = MySQLdb.connect(unix_socket=sys.argv[1], user='root')\n"
                 "cur = c.cursor()\n"
                 "for stmt in sys.argv[2].split(';'):\n"
                 "    stmt = stmt.strip()\n"
                 "    if stmt: cur.execute(stmt)\n"
                 "c.commit()\n")

        def ready():
            if not self.mariadb.running():
                raise Fatal("mariadbd exited:\n" + self.mariadb.tail())
            if not os.path.exists(self.db_socket):
                return False
            return subprocess.run([self.py, "-c", setup, self.db_socket, sql], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=20).returncode == 0
        wait_until(ready, 60, 0.2, "mariadbd to accept connections")
        log("mariadb up on 127.0.0.1:%d in %.1fs" % (self.db_port, time.monotonic() - t0))

    # ----- Django -----
    def django_env(self, server_name=None):
        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": "djproject.settings",
            "PYTHONPATH": DJAPP,
            "PYTHONDONTWRITEBYTECODE": "1",  # nothing written into the source tree
            "E2E_SECRET_KEY": "e2e-" + os.path.basename(self.tmp) + "-not-secret-at-all-0123456789",
            "E2E_HTTPS_PORT": str(self.https_port),
            "E2E_DB_HOST": "127.0.0.1",
            "E2E_DB_PORT": str(self.db_port),
            "E2E_DB_NAME": DB_NAME,
            "E2E_DB_USER": DB_USER,
            "E2E_DB_PASSWORD": DB_PASSWORD,
            "E2E_STATIC_ROOT": self.static_root,
            "DJANGO_SUPERUSER_PASSWORD": SITE_PASSWORD,
        })
        env.pop("PYTHONSTARTUP", None)
        if server_name:
            env["PORTCULLIS_E2E_SERVER"] = server_name
        return env

    def manage(self, *args):
        r = subprocess.run([self.py, "-m", "django"] + list(args), cwd=DJAPP, env=self.django_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("django-admin %s failed:\n%s" % (" ".join(args), r.stdout.decode("utf-8", "replace")))
        return r.stdout.decode("utf-8", "replace")

    def prepare_django_without_db(self):
        """In a thread, while MariaDB starts: the steps that need no database."""
        t0 = time.monotonic()
        # The migrations are committed; this fails if models.py and they disagree. (Its
        # consistency check may warn that the database is not up yet: harmless.)
        self.manage("makemigrations", "--check", "--dry-run", "notes")
        self.manage("collectstatic", "--noinput")
        log("migrations checked, static collected in %.1fs" % (time.monotonic() - t0))

    def prepare_django_db(self):
        t0 = time.monotonic()
        self.manage("migrate", "--noinput")
        self.manage("createsuperuser", "--noinput", "--username", SITE_USER, "--email", "alice@example.org")
        log("django migrated, user made in %.1fs" % (time.monotonic() - t0))

    def start_app(self, name):
        if INTERRUPTED:
            raise KeyboardInterrupt("interrupted: not restarting %s" % name)
        old = self.apps.get(name)
        if old is not None and old.running():
            old.stop(timeout=10)
        port = self.app_ports.setdefault(name, free_port())
        argv = [self.py, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % port, "--workers", "1",
                "--threads", "4", "--timeout", "30", "--graceful-timeout", "3", "--keep-alive", "2",
                "--forwarded-allow-ips", "127.0.0.1", "--name", name,
                "--access-logfile", "-", "djproject.wsgi"]
        self.apps[name] = Proc(name, argv, self.logdir, env=self.django_env(name), cwd=DJAPP)
        self.old_apps.append(self.apps[name])
        return port

    def wait_app(self, name, timeout=30):
        port = self.app_ports[name]
        proc = self.apps[name]

        def up():
            if not proc.running():
                raise Fatal("gunicorn %s exited:\n%s" % (name, proc.tail()))
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                c.request("GET", "/healthz", headers={"Host": "localhost"})
                return c.getresponse().status == 200
            finally:
                c.close()
        wait_until(up, timeout, 0.1, "gunicorn %s on port %d" % (name, port))

    # ----- Portcullis -----
    def make_cert(self):
        certdir = os.path.join(self.tmp, "certs")
        subprocess.run([os.path.join(REPO, "scripts", "gen-dev-cert.sh"), certdir], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        self.cert = os.path.join(certdir, "dev-cert.pem")
        self.key = os.path.join(certdir, "dev-key.pem")

    def proxy_yaml(self):
        servers = ", ".join("127.0.0.1:%d" % self.app_ports[n] for n in SERVER_NAMES)
        # The proxy serves /static/ itself, from the collectstatic output.
        routes = ['  - {path: /static/, static: {root: "%s"}}' % self.static_root,
                  "  - {path: /, upstream: django}"]
        return "\n".join([
            "workers: 2",
            "listeners:",
            "  - name: https",
            '    address: "127.0.0.1:%d"' % self.https_port,
            '    tls: {certificate: "%s", key: "%s"}' % (self.cert, self.key),
            "  - name: http",
            '    address: "127.0.0.1:0"',
            "    redirect_to_https: {port: %d}" % self.https_port,
            "upstreams:",
            "  django:",
            "    servers: [%s]" % servers,
            "    policy: round_robin",
            "    max_idle: 16",
            "    idle_timeout: 1500ms  # below gunicorn's --keep-alive 2",
            "    health_check: {path: /healthz, host: localhost, interval: 500ms, timeout: 400ms, rise: 2, fall: 2}",
            "    # Active health checks decide who is in; the deliberate 500s and 504s of the tests",
            "    # must not eject a server for 30s.",
            "    outlier: {consecutive_failures: 0}",
            "    retries: 2",
            "routes:",
        ] + routes + [
            "timeouts: {upstream_connect: 2s, upstream_response: %ds, shutdown_grace: 3s}" % UPSTREAM_RESPONSE_TIMEOUT_S,
            'access_log: {path: "%s", format: json}' % self.access_log_path,
            "",
        ])

    def start_proxy(self):
        self.config_path = os.path.join(self.tmp, "portcullis.yaml")
        self.ready_path = os.path.join(self.tmp, "ready")
        with open(self.config_path, "w") as f:
            f.write(self.proxy_yaml())
        self.proxy = Proc("portcullis", [self.bin, "-c", self.config_path, "--ready-file", self.ready_path],
                          self.logdir)
        ports = {}

        def ready():
            if not self.proxy.running():
                raise Fatal("portcullis exited (%s):\n%s" % (self.proxy.popen.returncode, self.proxy.tail()))
            try:
                with open(self.ready_path) as f:
                    text = f.read()
            except OSError:
                return False
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2:
                    ports[parts[0]] = int(parts[1].rsplit(":", 1)[1])
            return "https" in ports and "http" in ports
        wait_until(ready, 30, 0.05, "the proxy's ready file")
        if ports["https"] != self.https_port:
            raise RuntimeError("ready file says https on %d, configured %d" % (ports["https"], self.https_port))
        self.http_port = ports["http"]
        log("portcullis up: https %d, http %d" % (self.https_port, self.http_port))

    def access_log(self):
        """The proxy's JSON access log entries so far (it writes them within about a second)."""
        out = []
        try:
            with open(self.access_log_path) as f:
                for line in f:
                    if line.endswith("\n"):
                        out.append(json.loads(line))
        except OSError:
            pass
        return out

    def tls_context(self):
        return ssl.create_default_context(cafile=self.cert)

    def client(self, timeout=20):
        return Client(self.https_port, self.tls_context(), timeout)

    def wait_all_serving(self, names=SERVER_NAMES, timeout=30):
        """Until requests through the proxy have reached every named server."""
        seen = set()
        c = self.client(timeout=5)

        def all_seen():
            r = c.get("/whoami")
            if r.status == 200:
                seen.add(r.json()["server"])
            return set(names) <= seen
        try:
            wait_until(all_seen, timeout, 0.05, "requests through the proxy to reach %s (seen %s)" % (list(names), seen))
        finally:
            c.close()

    def start(self):
        t0 = time.monotonic()
        self.https_port = free_port()
        self.db_port = free_port()
        self.static_root = os.path.join(self.tmp, "static")
        self.access_log_path = os.path.join(self.logdir, "access.log")
        errors = []

        def no_db_steps():
            try:
                self.prepare_django_without_db()
            except Exception as e:  # noqa: BLE001 - re-raised below
                errors.append(e)
        side = threading.Thread(target=no_db_steps)
        side.start()
        try:
            self.make_cert()
            self.start_mariadb()
        finally:
            side.join(timeout=180)
        if errors:
            raise errors[0]
        self.prepare_django_db()
        for name in SERVER_NAMES:
            self.start_app(name)
        for name in SERVER_NAMES:
            self.wait_app(name)
        log("gunicorn up: %s" % self.app_ports)
        self.start_proxy()
        self.wait_all_serving()
        log("stack ready in %.1fs" % (time.monotonic() - t0))

    def stop(self):
        if self.proxy is not None:
            self.proxy_exit = self.proxy.stop(timeout=15)
            if self.proxy_exit != 0:
                log("portcullis exit status %r; its log:\n%s" % (self.proxy_exit, self.proxy.tail(80)))
        t0 = time.monotonic()
        rest = self.old_apps + ([self.mariadb] if self.mariadb is not None else [])
        for p in rest:  # SIGTERM to all at once, then wait for each (SIGKILL after 30s)
            if p.running():
                p.signal_group(signal.SIGTERM)
        for p in rest:
            p.stop(timeout=max(1.0, 30 - (time.monotonic() - t0)))
        if os.environ.get("E2E_KEEP") == "1":
            log("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


STACK = None
INTERRUPTED = False
DURATIONS = []  # (test method, seconds)


class DjangoBehindPortcullis(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.stack = STACK
        cls.restarted = None  # (name, time of restart) from test_i, for test_j

    def setUp(self):
        self.c = self.stack.client()
        self.addCleanup(self.c.close)
        t0 = time.monotonic()
        self.addCleanup(lambda: DURATIONS.append((self._testMethodName, time.monotonic() - t0)))

    def dump_logs(self, *names):
        return "\n".join("----- %s -----\n%s" % (n, (self.stack.apps.get(n) or self.stack.proxy).tail(30))
                         for n in names)

    # a. plain HTTP is redirected to https://
    def test_a_plain_http_redirects_to_https(self):
        http_client = Client(self.stack.http_port, None)
        try:
            r = http_client.get("/notes/?x=1&y=two")
            self.assertEqual(r.status, 301, r)  # GET/HEAD: 301 (src/proxy/redirect.cc)
            self.assertEqual(r.header("Location"), "https://localhost:%d/notes/?x=1&y=two" % self.stack.https_port)
            # A POST keeps its method: 308, never 301/302.
            r = http_client.post_form("/accounts/login/", {"a": "b"})
            self.assertEqual(r.status, 308, r)
            self.assertEqual(r.header("Location"), "https://localhost:%d/accounts/login/" % self.stack.https_port)
        finally:
            http_client.close()

    # b. Django sees https and the client's host
    def test_b_django_sees_https_and_host(self):
        # Spoofed forwarding headers from the client must be replaced by the proxy's own.
        r = self.c.get("/?q=1", headers={"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example",
                                          "X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(r.status, 200, r)
        d = r.json()
        base = "https://localhost:%d/" % self.stack.https_port
        self.assertIs(d["is_secure"], True, d)
        self.assertEqual(d["scheme"], "https", d)
        self.assertTrue(d["absolute_uri"].startswith(base), d)
        self.assertEqual(d["absolute_uri"], base + "?q=1", d)
        self.assertEqual(d["host"], "localhost:%d" % self.stack.https_port, d)
        self.assertEqual(d["x_forwarded_proto"], "https", d)
        self.assertEqual(d["x_forwarded_for"], "127.0.0.1", d)
        self.assertEqual(d["remote_addr"], "127.0.0.1", d)
        self.assertEqual(d["via"], "1.1 portcullis", d)
        self.assertTrue(d["x_request_id"], d)

    # c. login; the session (in MariaDB) is honoured by all three app servers
    def test_c_login_session_across_all_servers(self):
        anon = self.c.get("/private/")
        self.assertEqual(anon.status, 302, anon)
        self.assertEqual(anon.header("Location"), "/accounts/login/?next=/private/")
        r = self.c.login()
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.header("Location"), "/private/")
        self.assertIn("sessionid", self.c.cookies)
        morsel = self.c.cookie_attrs["sessionid"]
        self.assertTrue(morsel["secure"], "session cookie not Secure: %s" % morsel.OutputString())
        self.assertTrue(morsel["httponly"], "session cookie not HttpOnly: %s" % morsel.OutputString())
        self.assertTrue(self.c.cookie_attrs["csrftoken"]["secure"])
        counts = {}
        for i in range(12):
            w = self.c.get("/whoami")
            self.assertEqual(w.status, 200, w)
            d = w.json()
            self.assertEqual(d["user"], SITE_USER, "request %d: %r" % (i, d))
            counts[d["server"]] = counts.get(d["server"], 0) + 1
        log("authenticated /whoami x12 answered by %s" % counts)
        self.assertEqual(set(counts), set(SERVER_NAMES), counts)
        p = self.c.get("/private/")
        self.assertEqual(p.status, 200, p)
        self.assertEqual(p.json()["user"], SITE_USER)
        wrong = self.stack.client()
        try:
            bad = wrong.login(password="wrong password")
            self.assertEqual(bad.status, 200, bad)  # the form again, with an error
            self.assertNotIn("sessionid", wrong.cookies)
        finally:
            wrong.close()

    # d. CSRF: the form POST needs its token
    def test_d_csrf_protected_form_post(self):
        self.assertEqual(self.c.login().status, 302)
        page = self.c.get("/page")
        self.assertEqual(page.status, 200, page)
        token = csrf_token_of(page)
        ok = self.c.post_form("/notes/", {"csrfmiddlewaretoken": token, "title": "csrf ok", "body": "b"})
        self.assertEqual(ok.status, 201, ok)
        missing = self.c.post_form("/notes/", {"title": "no token", "body": "b"})
        self.assertEqual(missing.status, 403, missing)
        wrong = self.c.post_form("/notes/", {"csrfmiddlewaretoken": "x" * 64, "title": "bad token"})
        self.assertEqual(wrong.status, 403, wrong)
        foreign = self.c.post_form("/notes/", {"csrfmiddlewaretoken": token, "title": "cross-site"},
                                   headers={"Origin": "https://evil.example", "Referer": "https://evil.example/x"})
        self.assertEqual(foreign.status, 403, foreign)
        titles = [n["title"] for n in self.c.get("/notes/").json()["notes"]]
        self.assertIn("csrf ok", titles)
        self.assertNotIn("no token", titles)
        self.assertNotIn("bad token", titles)
        self.assertNotIn("cross-site", titles)

    # e. Authorization and cookies reach Django untouched
    def test_e_authorization_and_cookies_untouched(self):
        cookie = 'theme=dark; sessionid=not-a-session; quoted="a b"; empty='
        r = self.c.get("/echo-auth", headers={"Authorization": "Bearer xyz", "Cookie": cookie,
                                              "X-Custom": "kept  as-is"}, cookies=False)
        self.assertEqual(r.status, 200, r)
        d = r.json()
        self.assertEqual(d["authorization"], "Bearer xyz", d)
        self.assertEqual(d["cookie_header"], cookie, d)
        self.assertEqual(d["cookies"].get("theme"), "dark", d)
        self.assertEqual(d["cookies"].get("sessionid"), "not-a-session", d)
        self.assertEqual(d["x_custom"], "kept  as-is", d)
        basic = self.c.get("/echo-auth", headers={"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, cookies=False)
        self.assertEqual(basic.json()["authorization"], "Basic YWxhZGRpbjpvcGVuc2VzYW1l")

    # f. statuses from Django pass through unchanged
    def test_f_status_codes_pass_through(self):
        expected = {
            "/": (200, None),
            "/status/301": (301, "/page?from=301"),
            "/status/302": (302, "https://example.org/elsewhere?x=1"),
            "/status/400": (400, None),
            "/status/401": (401, None),
            "/status/403": (403, None),
            "/no/such/page": (404, None),
            "/status/500": (500, None),
        }
        for path, (status, location) in expected.items():
            r = self.c.get(path)
            self.assertEqual(r.status, status, "%s: %r" % (path, r))
            self.assertEqual(r.header("Location"), location, path)
            if status >= 400:
                # Django's own error pages, not the proxy's.
                self.assertNotIn("portcullis", r.text().lower(), "%s: %r" % (path, r))
        self.assertEqual(self.c.get("/status/401").header("WWW-Authenticate"), 'Bearer realm="e2e"')

    # g. notes create/list/update/delete
    def test_g_notes_crud_round_trip(self):
        self.assertEqual(self.c.login().status, 302)
        token = csrf_token_of(self.c.get("/page"))
        title = "note %d" % os.getpid()
        created = self.c.post_form("/notes/", {"csrfmiddlewaretoken": token, "title": title, "body": "first body"})
        self.assertEqual(created.status, 201, created)
        note_id = created.json()["id"]
        listed = self.c.get("/notes/")
        self.assertEqual(listed.status, 200, listed)
        self.assertIn({"id": note_id, "title": title, "body": "first body"}, listed.json()["notes"])
        headers = {"X-CSRFToken": self.c.cookies["csrftoken"], "Content-Type": "application/json",
                   "Origin": self.c.origin, "Referer": self.c.origin + "/page"}
        body = json.dumps({"title": title + " (edited)", "body": "second body \u00e9\u2713"})
        updated = self.c.request("PUT", "/notes/%d" % note_id, body=body, headers=headers)
        self.assertEqual(updated.status, 200, updated)
        # Read back on each of the three servers: the row is in MariaDB, not in one process.
        servers = set()
        for _ in range(6):
            got = self.c.get("/notes/%d" % note_id)
            self.assertEqual(got.status, 200, got)
            d = got.json()
            self.assertEqual((d["title"], d["body"]), (title + " (edited)", "second body \u00e9\u2713"))
            servers.add(d["server"])
        self.assertEqual(servers, set(SERVER_NAMES))
        no_token = self.c.request("DELETE", "/notes/%d" % note_id,
                                  headers={"Origin": self.c.origin, "Referer": self.c.origin + "/page"})
        self.assertEqual(no_token.status, 403, no_token)
        deleted = self.c.request("DELETE", "/notes/%d" % note_id, headers=headers)
        self.assertEqual(deleted.status, 200, deleted)
        self.assertEqual(deleted.json()["deleted"], note_id)
        self.assertEqual(self.c.get("/notes/%d" % note_id).status, 404)
        self.assertNotIn(note_id, [n["id"] for n in self.c.get("/notes/").json()["notes"]])
        # A body larger than the proxy's in-memory buffer (64k: the rest goes to a temp file),
        # both ways: a 300 KB form POST and the JSON that echoes it.
        big = "".join("line %06d of a long note\n" % i for i in range(12000))
        self.assertGreater(len(big), 300000)
        created = self.c.post_form("/notes/", {"csrfmiddlewaretoken": token, "title": "big", "body": big})
        self.assertEqual(created.status, 201, created)
        got = self.c.get("/notes/%d" % created.json()["id"])
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.json()["body"], big)

    # h. a hung upstream: 504 after upstream_response
    def test_h_hung_upstream_gets_504(self):
        r = self.c.get("/slow?s=5")
        self.assertEqual(r.status, 504, r)
        self.assertGreaterEqual(r.elapsed, UPSTREAM_RESPONSE_TIMEOUT_S - 0.2, r.elapsed)
        self.assertLess(r.elapsed, 4.5, "504 after %.2fs" % r.elapsed)
        # The site still answers at once afterwards.
        self.assertEqual(self.c.get("/whoami").status, 200)

    # h. every app server down: 502/503; then they come back
    def test_h_all_servers_down_then_back(self):
        st = self.stack
        seen = []
        try:
            for name in SERVER_NAMES:  # SIGTERM to all three, then wait for each
                st.apps[name].signal_group(signal.SIGTERM)
            for name in SERVER_NAMES:
                st.apps[name].stop(timeout=10)
            r = self.c.get("/whoami")
            seen.append(r.status)
            self.assertIn(r.status, (502, 503), r)
            time.sleep(1.5)  # health checks (500ms, fall 2) have now marked all three down
            r = self.c.get("/whoami")
            seen.append(r.status)
            self.assertIn(r.status, (502, 503), r)
            log("all servers down: statuses %s" % seen)
        finally:
            for name in SERVER_NAMES:
                st.start_app(name)
            for name in SERVER_NAMES:
                st.wait_app(name)
            st.wait_all_serving(timeout=30)

    # i. a crashed app server costs no idempotent request
    def test_i_kill_one_server_mid_run(self):
        st = self.stack
        results = []  # (i, status or exception, server)
        victim = None
        killer = None
        for i in range(60):
            if i == 20:
                # Strict round robin: request 20 goes where request 17 went. Kill that server a
                # moment after sending it, so the request is (most likely) in flight there.
                victim = results[17][2]
                killer = threading.Timer(0.02, st.apps[victim].kill)
                killer.start()
            try:
                r = self.c.get("/whoami?sleep=0.05&n=%d" % i)
                results.append((i, r.status, r.json().get("server") if r.status == 200 else r.text()[:200]))
            except Exception as e:  # noqa: BLE001 - recorded and reported below
                results.append((i, repr(e), None))
        killer.join()
        kill_time = time.monotonic()
        try:
            failures = [x for x in results if x[1] != 200]
            after = [x[2] for x in results[21:]]
            log("killed %s at request 20; request 20 answered by %s; servers after: %s" % (
                victim, results[20][2], {s: after.count(s) for s in set(after)}))
            self.assertEqual(failures, [], "requests that failed across the SIGKILL of %s: %s\n%s" % (
                victim, failures, self.dump_logs("portcullis")))
            self.assertNotIn(victim, after[5:], "the killed server still answered")
            # The proxy's access log shows the failover happened (else the kill missed the run).
            entries = {}

            def logged():
                for e in st.access_log():
                    m = re.fullmatch(r"sleep=0\.05&n=(\d+)", e.get("query") or "")
                    if e.get("path") == "/whoami" and m:
                        entries[int(m.group(1))] = e
                return 59 in entries
            wait_until(logged, 10, 0.2, "the access log lines of the 60 requests")
            e20 = entries.get(20, {})
            log("request 20 in the access log: status %s, attempts %s, retries %s, upstream_host %s, error %s" % (
                e20.get("status"), e20.get("attempts"), e20.get("retries"), e20.get("upstream_host"), e20.get("error")))
            again = [(n, e.get("attempts"), e.get("retries")) for n, e in sorted(entries.items())
                     if n >= 20 and (e.get("attempts") or 0) > 1]
            log("requests after the kill that needed more than one attempt (n, attempts, retries): %s" % again)
            self.assertTrue(again, "no request after the kill needed a second attempt: the kill missed the run")
        finally:
            st.start_app(victim)
            st.wait_app(victim)
            type(self).restarted = (victim, time.monotonic(), kill_time)

    # j. the restarted server rejoins after the health checks
    def test_j_restarted_server_rejoins(self):
        st = self.stack
        if self.restarted is None:  # test_i did not run first: crash and restart one here
            victim = "app2"
            st.apps[victim].kill()
            time.sleep(1.5)  # health checks notice
            st.start_app(victim)
            st.wait_app(victim)
            type(self).restarted = (victim, time.monotonic(), None)
        victim, restarted_at, _ = self.restarted
        counts = {}

        def reached():
            r = self.c.get("/whoami")
            self.assertEqual(r.status, 200, r)
            s = r.json()["server"]
            counts[s] = counts.get(s, 0) + 1
            return s == victim
        wait_until(reached, 15, 0.05, "%s to get requests again (answers so far: %s)" % (victim, counts))
        log("%s rejoined %.2fs after its restart" % (victim, time.monotonic() - restarted_at))
        counts.clear()
        for _ in range(9):
            reached()
        self.assertEqual(set(counts), set(SERVER_NAMES), counts)

    # k. static files served by the proxy itself
    def test_k_static_files_from_the_proxy(self):
        with open(os.path.join(self.stack.static_root, "staticfiles.json")) as f:
            manifest = json.load(f)["paths"]
        css_name = manifest["notes/app.css"]
        js_name = manifest["notes/app.js"]
        self.assertRegex(css_name, r"^notes/app\.[0-9a-f]{12}\.css$")
        with open(os.path.join(self.stack.static_root, css_name), "rb") as f:
            css = f.read()
        page = self.c.get("/page").text()
        self.assertIn('href="/static/%s"' % css_name, page)
        self.assertIn('src="/static/%s"' % js_name, page)
        url = "/static/" + css_name
        r = self.c.get(url)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, css)
        self.assertEqual(r.header("Cache-Control"), "public, max-age=31536000, immutable")
        self.assertIn("css", r.header("Content-Type") or "")
        self.assertNotEqual(r.header("Server"), "gunicorn", "Django answered, not the proxy")
        etag = r.header("ETag")
        self.assertTrue(etag, r)
        r = self.c.get(url, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")
        r = self.c.get(url, headers={"Range": "bytes=0-9"})
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.body, css[:10])
        self.assertEqual(r.header("Content-Range"), "bytes 0-9/%d" % len(css))
        js = self.c.get("/static/" + js_name)
        self.assertEqual(js.status, 200, js)
        self.assertIn("javascript", js.header("Content-Type") or "")
        # collectstatic keeps the unhashed copy too: cacheable, but not immutable.
        plain = self.c.get("/static/notes/app.css")
        self.assertEqual(plain.status, 200, plain)
        with open(os.path.join(self.stack.static_root, "notes", "app.css"), "rb") as f:
            self.assertEqual(plain.body, f.read())
        self.assertTrue((plain.header("Cache-Control") or "").startswith("public, max-age="), plain)
        self.assertNotIn("immutable", plain.header("Cache-Control"))
        # Not Django: the proxy answered even for a file Django would 404 on with DEBUG off.
        self.assertEqual(self.c.get("/static/notes/no-such-file.css").status, 404)


def _terminate(signum, frame):
    global INTERRUPTED
    INTERRUPTED = True
    raise KeyboardInterrupt("signal %d" % signum)  # unwinds through main()'s finally: stop()


def main():
    global STACK
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    t0 = time.monotonic()
    verbosity = 2 if "-v" in sys.argv else 1
    argv = [a for a in sys.argv if a != "-v"]
    try:
        STACK = Stack()
    except Exception as e:  # noqa: BLE001
        log("cannot run: %s" % e)
        return 1
    result = None
    setup_error = None
    try:
        try:
            STACK.start()
        except Exception as e:  # noqa: BLE001
            setup_error = e
            log("stack setup failed: %s" % e)
            for p in [STACK.mariadb, STACK.proxy] + list(STACK.apps.values()):
                if p is not None:
                    log("----- %s log -----\n%s" % (p.name, p.tail(40)))
        if setup_error is None:
            prog = unittest.main(argv=argv, exit=False, verbosity=verbosity)
            result = prog.result
    finally:
        if result is not None and not result.wasSuccessful():
            for p in [STACK.proxy] + [STACK.apps.get(n) for n in SERVER_NAMES]:
                if p is not None:
                    log("----- last lines of %s's log -----\n%s" % (p.name, p.tail(25)))
        STACK.stop()
    ok = setup_error is None and result is not None and result.wasSuccessful()
    proxy_clean = STACK.proxy_exit == 0
    print("\n===== Portcullis Django e2e summary =====")
    if result is not None:
        print("tests run: %d, failures: %d, errors: %d, skipped: %d" % (
            result.testsRun, len(result.failures), len(result.errors), len(result.skipped)))
        for test, _ in result.failures + result.errors:
            print("  FAILED: %s" % test.id())
        for test, why in result.skipped:
            print("  skipped: %s (%s)" % (test.id(), why))
    for name, secs in DURATIONS:
        print("  %5.1fs  %s" % (secs, name))
    if setup_error is not None:
        print("setup failed: %s" % setup_error)
    print("portcullis exit status after SIGTERM: %r%s" % (STACK.proxy_exit, "" if proxy_clean else " (expected 0)"))
    print("total time: %.1fs" % (time.monotonic() - t0))
    print("RESULT: %s" % ("PASS" if ok and proxy_clean else "FAIL"))
    return 0 if ok and proxy_clean else 1


if __name__ == "__main__":
    sys.exit(main())

"""Bring the devcloud up, take it down, say what runs. Standard library only.

Every process is started in its own session (process group) with its PID in
``run/<service>.pid``; ``down`` signals exactly those groups, never by name.
"""

import configparser
import hashlib
import json
import os
import secrets as pysecrets
import shutil
import signal
import socket
import subprocess
import sys
import time

from configs import (
    CONFIGS,
    DATABASES,
    EVENT_PIPELINE,
    HOST,
    PORTS,
    Layout,
    render_ini,
    second_compute_conf,
)

LIB = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(LIB))
# iproute2's ss: the fault suite finds which process talks to which service.
APT_PACKAGES = ("rabbitmq-server", "mariadb-server", "mariadb-client", "iproute2")


class DevcloudError(Exception):
    """Something the operator must fix; the message says what."""


_SECRETS = []


def redact(text):
    """The text with every devcloud password replaced by ***."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def log(msg):
    print("devcloud: %s" % redact(msg), flush=True)


# ----------------------------------------------------------------- processes

def port_open(port, host=HOST):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid):
    """True if pid runs and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def group_alive(pgid):
    """True if any live (non-zombie) process is left in process group pgid."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def tail(path, lines=25):
    try:
        with open(path, errors="replace") as f:
            return redact("".join(f.readlines()[-lines:]))
    except OSError:
        return "(no log at %s)" % path


class Service:
    """One long-running process of the devcloud."""

    def __init__(self, name, argv, port=None, env=None, cwd=None):
        self.name, self.argv, self.port = name, argv, port
        self.env, self.cwd = env or {}, cwd

    def pidfile(self, lay):
        return os.path.join(lay.run, "%s.pid" % self.name)

    def logfile(self, lay):
        return os.path.join(lay.logs, "%s.log" % self.name)

    def pid(self, lay):
        try:
            with open(self.pidfile(lay)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def running(self, lay):
        pid = self.pid(lay)
        return bool(pid) and pid_alive(pid)

    def start(self, lay):
        if self.running(lay):
            return False
        if self.port and port_open(self.port):
            raise DevcloudError(
                "port %d (%s) is already in use by a process devcloud did not start. "
                "Stop it (e.g. 'ss -ltnp sport = :%d') and run 'tools/devcloud up' again."
                % (self.port, self.name, self.port))
        env = dict(os.environ)
        env.update(self.env)
        env["PATH"] = os.path.join(lay.venv, "bin") + os.pathsep + env.get("PATH", "")
        logf = open(self.logfile(lay), "ab")
        proc = subprocess.Popen(self.argv, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=self.cwd or lay.state,
                                start_new_session=True)
        logf.close()
        with open(self.pidfile(lay), "w") as f:
            f.write(str(proc.pid))
        return True

    def wait_ready(self, lay, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.running(lay):
                raise DevcloudError("%s exited during start-up. Last lines of %s:\n%s"
                                    % (self.name, self.logfile(lay), tail(self.logfile(lay))))
            if self.port is None or port_open(self.port):
                return
            time.sleep(0.2)
        raise DevcloudError("%s did not open port %s within %d s. Last lines of %s:\n%s"
                            % (self.name, self.port, timeout, self.logfile(lay),
                               tail(self.logfile(lay))))

    def stop(self, lay, timeout=15):
        return stop_all(lay, [self], timeout) == [self.name]


def stop_all(lay, svcs, timeout=10):
    """SIGTERM every service's process group at once, SIGKILL what is left.

    Returns the names of the services that had been started."""
    groups = {svc.name: (svc, svc.pid(lay)) for svc in svcs if svc.pid(lay)}
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        for _, pgid in groups.values():
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + wait
        while time.time() < deadline and any(group_alive(p) for _, p in groups.values()):
            time.sleep(0.2)
    for svc, _ in groups.values():
        os.unlink(svc.pidfile(lay))
    return list(groups)


# ----------------------------------------------------------------- services

def gunicorn(lay, name, factory, port, conf=None, env=None, workers=1, threads=4):
    env = dict(env or {})
    if conf:
        env["DEVCLOUD_CONF"] = conf
    # --keep-alive 0: every response closes its connection. With keep-alive a client
    # (requests' pool) may send on a connection the server is just closing after its idle
    # timeout, and gets "connection reset by peer": Heat's signal handling, the services'
    # Keystone calls and the tests saw it under load.
    argv = [lay.bin("gunicorn"), "--bind", "%s:%d" % (HOST, port), "--workers", str(workers),
            "--threads", str(threads), "--timeout", "300", "--graceful-timeout", "5",
            "--keep-alive", "0", "--no-control-socket", "--chdir", LIB, "--name", name,
            factory]
    return Service(name, argv, port, env)


def services(lay):
    """All devcloud services, in start order, as (phase, Service)."""
    conf = lay.conf
    mysql_run = os.path.join(lay.run, "mysqld")
    rabbit_env = {
        "HOME": os.path.join(lay.data, "rabbitmq"),
        "RABBITMQ_NODENAME": "devcloud@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(PORTS["rabbitmq"]),
        "RABBITMQ_DIST_PORT": "25672",
        "ERL_EPMD_ADDRESS": HOST,
        "ERL_EPMD_PORT": str(PORTS["epmd"]),
        "RABBITMQ_MNESIA_BASE": os.path.join(lay.data, "rabbitmq", "mnesia"),
        "RABBITMQ_LOG_BASE": lay.logs,
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_CONF_ENV_FILE": os.path.join(lay.etc, "rabbitmq", "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": os.path.join(lay.etc, "rabbitmq", "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(lay.etc, "rabbitmq", "enabled_plugins"),
        "RABBITMQ_PID_FILE": os.path.join(lay.run, "rabbitmq-erl.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    nova_env = {"OS_NOVA_CONFIG_DIR": os.path.dirname(conf("nova")),
                # the first file is Nova's paste file, the rest its configuration
                "OS_NOVA_CONFIG_FILES": lay.venv_etc("nova", "api-paste.ini") + ";nova.conf"}
    with_conf = lambda svc: ["--config-file", conf(svc)]  # noqa: E731
    return [
        ("base", Service("mariadb", [
            "/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + os.path.join(lay.data, "mysql"),
            "--socket=" + mysql_run + ".sock", "--pid-file=" + mysql_run + ".pid",
            "--bind-address=" + HOST, "--port=%d" % PORTS["mariadb"], "--user=root",
            "--skip-name-resolve", "--max-connections=1000", "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=256M", "--character-set-server=utf8mb4",
            "--log-error=" + os.path.join(lay.logs, "mariadb-server.log")], PORTS["mariadb"])),
        ("base", Service("epmd", ["/usr/bin/epmd", "-address", HOST, "-port",
                                  str(PORTS["epmd"])], PORTS["epmd"])),
        ("base", Service("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
                         PORTS["rabbitmq"], rabbit_env)),
        ("identity", gunicorn(lay, "keystone", "wsgi_apps:keystone()", PORTS["keystone"],
                              env={"OS_KEYSTONE_CONFIG_FILES": conf("keystone")}, threads=8)),
        ("apis", gunicorn(lay, "placement-api", "wsgi_apps:placement_api()",
                          PORTS["placement-api"],
                          env={"OS_PLACEMENT_CONFIG_DIR": os.path.dirname(conf("placement"))})),
        ("apis", gunicorn(lay, "neutron-fake", "wsgi_apps:fake_neutron()", PORTS["neutron-fake"],
                          threads=2)),
        ("apis", gunicorn(lay, "glance-api", "wsgi_apps:glance_api()", PORTS["glance-api"],
                          env={"OS_GLANCE_CONFIG_DIR": os.path.dirname(conf("glance"))})),
        ("apis", gunicorn(lay, "nova-api", "wsgi_apps:nova_api()", PORTS["nova-api"],
                          env=nova_env)),
        ("apis", gunicorn(lay, "cinder-api", "wsgi_apps:cinder_api()", PORTS["cinder-api"],
                          conf("cinder"))),
        ("apis", gunicorn(lay, "heat-api", "wsgi_apps:heat_api()", PORTS["heat-api"],
                          conf("heat"), threads=8)),
        ("apis", gunicorn(lay, "aodh-api", "wsgi_apps:aodh_api()", PORTS["aodh-api"],
                          conf("aodh"))),
        ("apis", gunicorn(lay, "heat-api-cfn", "wsgi_apps:heat_api_cfn()", PORTS["heat-api-cfn"],
                          conf("heat"))),
        ("workers", Service("heat-engine", [lay.bin("heat-engine")] + with_conf("heat"))),
        ("workers", Service("nova-conductor", [lay.bin("nova-conductor")] + with_conf("nova"))),
        ("workers", Service("nova-scheduler", [lay.bin("nova-scheduler")] + with_conf("nova"))),
        ("workers", Service("nova-compute", [lay.bin("nova-compute")] + with_conf("nova"))),
        ("workers", Service("nova-compute-2", [lay.bin("nova-compute")] + with_conf("nova")
                            + ["--config-file", second_compute_conf_path(lay)])),
        ("workers", Service("cinder-scheduler", [lay.bin("cinder-scheduler")]
                            + with_conf("cinder"))),
        ("workers", Service("cinder-volume", [lay.bin("cinder-volume")] + with_conf("cinder"))),
    ] + [("workers", svc) for svc in mistral_services(lay, mistral_mode(lay))] + [
        ("workers", Service("aodh-listener", [lay.bin("aodh-listener")] + with_conf("aodh"))),
        ("workers", Service("aodh-notifier", [lay.bin("aodh-notifier")] + with_conf("aodh"))),
        ("workers", Service("aodh-evaluator", [lay.bin("aodh-evaluator")] + with_conf("aodh"))),
        ("workers", Service("ceilometer-notification", [
            os.path.join(ceilometer_venv(lay), "bin", "ceilometer-agent-notification")]
            + with_conf("ceilometer"))),
    ]


MISTRAL_MODES = ("all", "scaled")
# The scaled-out Mistral: what a real cloud runs, each its own process over RabbitMQ.
MISTRAL_SCALED = (("api", "api"), ("engine", "engine"), ("engine-2", "engine"),
                  ("executor", "executor"), ("executor-2", "executor"),
                  ("notifier", "notifier"), ("periodic", "periodic"))


def mistral_mode_file(lay):
    return os.path.join(lay.state, "mistral-mode")


def mistral_mode(lay):
    """'all' (one mistral-server --server all) or 'scaled', as 'up' last chose."""
    mode = _read(mistral_mode_file(lay)).strip()
    return mode if mode in MISTRAL_MODES else "all"


def mistral_services(lay, mode):
    """Mistral's processes in ``mode``: one 'mistral', or one per component and copy.

    Each scaled process gets its own [DEFAULT] host (its RPC server name) from a small
    extra config file, so two engines or executors are two distinct servers.
    """
    mistral = [lay.bin("mistral-server"), "--config-file", lay.conf("mistral")]
    if mode == "all":
        return [Service("mistral", mistral + ["--server", "all"], PORTS["mistral"])]
    return [Service("mistral-" + name, mistral + [
        "--config-file", mistral_host_conf_path(lay, name), "--server", component],
        PORTS["mistral"] if component == "api" else None)
        for name, component in MISTRAL_SCALED]


def mistral_host_conf_path(lay, name):
    return os.path.join(lay.etc, "mistral", "mistral-%s.conf" % name)


def second_compute_conf_path(lay):
    return os.path.join(lay.etc, "nova", "nova-compute-2.conf")


def find_service(lay, name):
    for _, svc in services(lay):
        if svc.name == name:
            return svc
    raise DevcloudError("no devcloud service named %r (see 'tools/devcloud status')" % name)


# ----------------------------------------------------------------- install

def run(argv, lay=None, what=None, env=None, quiet=True):
    """Run a one-off command; on failure raise with the tail of its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if lay is not None:
        full_env["PATH"] = os.path.join(lay.venv, "bin") + os.pathsep + full_env.get("PATH", "")
    proc = subprocess.run(argv, env=full_env, capture_output=quiet, text=True)
    if proc.returncode != 0:
        out = redact((proc.stdout or "") + (proc.stderr or ""))[-3000:]
        raise DevcloudError("%s failed (exit %d):\n%s" % (what or argv[0], proc.returncode, out))
    return proc.stdout


def ensure_apt():
    needed = ("/usr/sbin/mariadbd", "/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/bin/mariadb",
              "/usr/bin/ss")
    if all(os.path.exists(p) for p in needed):
        return
    if os.geteuid() != 0:
        raise DevcloudError("MariaDB/RabbitMQ are missing and only root can apt-get install them: "
                            "run as root, or 'apt-get install %s' first." % " ".join(APT_PACKAGES))
    log("installing %s with apt" % ", ".join(APT_PACKAGES))
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], what="apt-get update", env=env)
    # Debian's packages try to start their services; policy-rc.d stops that.
    policy = "/usr/sbin/policy-rc.d"
    created = not os.path.exists(policy)
    if created:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + list(APT_PACKAGES),
            what="apt-get install", env=env)
    finally:
        if created:
            os.unlink(policy)


def _file_hash(*paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _uv(state):
    """uv (PyPI's package installer in Rust), in a venv of its own under ``state``: it
    installs the services' few hundred packages several times faster than pip."""
    uv = os.path.join(state, "uv-venv", "bin", "uv")
    if not os.path.exists(uv):
        run([sys.executable, "-m", "venv", os.path.dirname(os.path.dirname(uv))],
            what="python -m venv (uv)")
        run([os.path.join(os.path.dirname(uv), "pip"), "install", "-q",
             "--disable-pip-version-check", "uv"], what="pip install uv")
    return uv


def _ensure_venv(venv, constraints, packages, what):
    """A venv holding packages pinned by constraints; reinstalled when either file changes."""
    marker = os.path.join(venv, ".devcloud-requirements")
    want = _file_hash(constraints, *[p for p in packages if os.path.isfile(p)]) + repr(packages)
    if os.path.exists(marker) and open(marker).read() == want:
        return False
    log("installing %s into %s (uv pip, about half a minute)" % (what, venv))
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        run([sys.executable, "-m", "venv", venv], what="python -m venv")
    args = []
    for p in packages:
        args += ["-r", p] if os.path.isfile(p) else [p]
    # --compile-bytecode: as pip does, so that no service start (and the fault suite
    # restarts them dozens of times) compiles its modules again.
    run([_uv(os.path.dirname(venv)), "pip", "install", "-q", "--compile-bytecode",
         "--python", python, "-c", constraints] + args, what="uv pip install (%s)" % what)
    with open(marker, "w") as f:
        f.write(want)
    return True


def ensure_venv(lay):
    _ensure_venv(lay.venv, os.path.join(LIB, "constraints.txt"),
                 [os.path.join(LIB, "requirements.txt")], "the OpenStack services")
    # Ceilometer's botocore wants python-dateutil<3, the services' set pins 4.0: its own venv.
    _ensure_venv(ceilometer_venv(lay), os.path.join(LIB, "ceilometer-constraints.txt"),
                 ["ceilometer"], "Ceilometer")


def ceilometer_venv(lay):
    return os.path.join(lay.state, "ceilometer-venv")


def install_pack(lay):
    """Install this repository's pack into the services' venv; True if it changed. The
    package ships the workflows too (``openstack ha pack install`` uploads its copy): a
    changed workflow file reinstalls it as a changed action does."""
    marker = os.path.join(lay.venv, ".devcloud-pack")
    files = sorted(os.path.join(d, f) for top in ("actions", "workflows")
                   for d, _, fs in os.walk(os.path.join(REPO, top))
                   for f in fs if f.endswith((".py", ".yaml"))) + [os.path.join(REPO, "setup.cfg")]
    want = _file_hash(*files)
    if os.path.exists(marker) and open(marker).read() == want:
        return False
    log("installing the ha-actions pack into the Mistral environment")
    run([lay.bin("python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-deps", "--force-reinstall", REPO], what="pip install ha-actions")
    with open(marker, "w") as f:
        f.write(want)
    return True


# ----------------------------------------------------------------- state

def load_secrets(lay):
    path = os.path.join(lay.state, "secrets.json")
    if os.path.exists(path):
        with open(path) as f:
            values = json.load(f)
    else:
        # Hex: a urlsafe secret may start with '-' (1 in 32), which keystone-manage
        # bootstrap and other command lines then read as an option (seen: the demo failed).
        values = {k: pysecrets.token_hex(18) for k in
                  ("db_password", "service_password", "admin_password", "demo_password")}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(values, f)
    _SECRETS[:] = values.values()
    return values


def write_private(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _ini_values(text):
    """An INI text's settings, so that reordering alone is not a change."""
    parser = configparser.RawConfigParser(strict=False)
    parser.read_string(text)
    values = {section: dict(parser.items(section)) for section in parser.sections()}
    values["DEFAULT"] = dict(parser.defaults())  # sections() leaves [DEFAULT] out
    return values


def write_configs(lay, sec):
    """Write every service's configuration; return the names whose file changed."""
    changed = []
    files = [(name, lay.conf(name), builder) for name, builder in CONFIGS.items()]
    files.append(("nova-compute-2", second_compute_conf_path(lay), second_compute_conf))
    for name, _ in MISTRAL_SCALED:
        files.append(("mistral-" + name, mistral_host_conf_path(lay, name),
                      lambda _lay, _sec, n=name: {"DEFAULT": {"host": "devcloud-mistral-" + n}}))
    for name, path, builder in files:
        text = render_ini(builder(lay, sec))
        if _ini_values(text) != _ini_values(_read(path)):
            write_private(path, text)
            changed.append(name)
    with open(os.path.join(lay.venv, "lib", "python%d.%d" % sys.version_info[:2],
                           "site-packages", "aodh", "api", "api-paste.ini")) as f:
        paste = f.read()
    # keystonemiddleware would read only /etc/aodh/aodh.conf without this line.
    paste = paste.replace("[filter:authtoken]\n", "[filter:authtoken]\noslo_config_file = %s\n"
                          % lay.conf("aodh"))
    write_private(os.path.join(lay.etc, "aodh", "api-paste.ini"), paste)
    write_private(os.path.join(lay.etc, "ceilometer", "event_pipeline.yaml"), EVENT_PIPELINE)
    shutil.copy(lay.venv_etc("glance", "glance-api-paste.ini"),
                os.path.join(lay.etc, "glance", "glance-api-paste.ini"))
    write_private(os.path.join(lay.etc, "rabbitmq", "enabled_plugins"), "[].\n")
    write_private(os.path.join(lay.etc, "rabbitmq", "rabbitmq-env.conf"), "")
    for sub in ("nova/instances", "nova/locks", "cinder/locks", "glance/images",
                "glance/staging", "glance/tasks", "keystone", "rabbitmq/mnesia",
                "nova-2/instances", "nova-2/locks"):
        os.makedirs(os.path.join(lay.data, sub), exist_ok=True)
    return changed


def done_marker(lay, step):
    return os.path.join(lay.data, "done-%s" % step)


def once(lay, step, func):
    """Run an initialisation step once per state directory."""
    if os.path.exists(done_marker(lay, step)):
        return
    func()
    open(done_marker(lay, step), "w").close()


# ----------------------------------------------------------------- bring-up

def init_mariadb(lay):
    datadir = os.path.join(lay.data, "mysql")
    if os.path.isdir(os.path.join(datadir, "mysql")):
        return
    log("initialising MariaDB in %s" % datadir)
    run(["mariadb-install-db", "--no-defaults", "--datadir=" + datadir, "--user=root",
         "--auth-root-authentication-method=socket", "--skip-test-db"], what="mariadb-install-db")


def create_databases(lay, sec):
    stmts = ["CREATE USER IF NOT EXISTS 'devcloud'@'127.0.0.1' IDENTIFIED BY '%s';"
             % sec["db_password"],
             "GRANT ALL PRIVILEGES ON *.* TO 'devcloud'@'127.0.0.1';"]
    stmts += ["CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8;" % db for db in DATABASES]
    run(["mariadb", "--no-defaults", "--socket=" + os.path.join(lay.run, "mysqld.sock"),
         "-uroot", "-e", " ".join(stmts)], what="creating the databases")


def sync_databases(lay):
    """Every service's schema, in parallel (they are independent)."""
    c = lay.conf
    jobs = {
        "keystone": [lay.bin("keystone-manage"), "--config-file", c("keystone"), "db_sync"],
        "heat": [lay.bin("heat-manage"), "--config-file", c("heat"), "db_sync"],
        "placement": [lay.bin("placement-manage"), "--config-file", c("placement"), "db", "sync"],
        "glance": [lay.bin("glance-manage"), "--config-file", c("glance"), "db_sync"],
        "cinder": [lay.bin("cinder-manage"), "--config-file", c("cinder"), "db", "sync"],
        "mistral": [lay.bin("mistral-db-manage"), "--config-file", c("mistral"), "upgrade",
                    "head"],
        "aodh": [lay.bin("aodh-dbsync"), "--config-file", c("aodh")],
        "nova": None,
    }
    jobs = {name: argv for name, argv in jobs.items()
            if not os.path.exists(done_marker(lay, "db-sync-" + name))}
    nova = [lay.bin("nova-manage"), "--config-file", c("nova")]
    nova_script = " && ".join([
        " ".join(nova + ["api_db", "sync"]),
        " ".join(nova + ["cell_v2", "map_cell0", "--database_connection",
                         "'%s'" % _cell0_url(lay)]),
        "(%s || true)" % " ".join(nova + ["cell_v2", "create_cell", "--name", "cell1"]),
        " ".join(nova + ["db", "sync"]),
    ])
    procs = {}
    for name, argv in jobs.items():
        logf = open(os.path.join(lay.logs, "db-sync-%s.log" % name), "wb")
        if argv is None:
            argv = ["/bin/sh", "-c", nova_script]
        env = dict(os.environ, PATH=os.path.join(lay.venv, "bin") + os.pathsep + os.environ["PATH"])
        procs[name] = (subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, env=env),
                       logf)
    failed = []
    for name, (proc, logf) in procs.items():
        if proc.wait() != 0:
            failed.append(name)
        logf.close()
    for name in procs:
        if name not in failed:
            open(done_marker(lay, "db-sync-" + name), "w").close()
    if failed:
        name = failed[0]
        path = os.path.join(lay.logs, "db-sync-%s.log" % name)
        raise DevcloudError("database schema sync failed for %s. Last lines of %s:\n%s"
                            % (", ".join(failed), path, tail(path)))


def _cell0_url(lay):
    with open(lay.conf("nova")) as f:
        for line in f:
            if line.startswith("connection = ") and "/nova?" in line:
                return line.split(" = ", 1)[1].strip().replace("/nova?", "/nova_cell0?")
    raise DevcloudError("nova.conf has no [database] connection")


def keystone_setup(lay, sec):
    km = [lay.bin("keystone-manage"), "--config-file", lay.conf("keystone")]
    run(km + ["fernet_setup", "--keystone-user", "root", "--keystone-group", "root"],
        what="keystone-manage fernet_setup")
    run(km + ["credential_setup", "--keystone-user", "root", "--keystone-group", "root"],
        what="keystone-manage credential_setup")
    run(km + ["bootstrap", "--bootstrap-password", sec["admin_password"],
              "--bootstrap-admin-url", "http://%s:5000/v3/" % HOST,
              "--bootstrap-public-url", "http://%s:5000/v3/" % HOST,
              "--bootstrap-internal-url", "http://%s:5000/v3/" % HOST,
              "--bootstrap-region-id", "RegionOne"], what="keystone-manage bootstrap")


def bootstrap(lay, step):
    """Users, projects, catalog (step 'identity') or flavor and image ('resources')."""
    out = run([lay.bin("python"), os.path.join(LIB, "bootstrap.py"), lay.state, step],
              what="bootstrap %s" % step)
    return out


def install(state_dir):
    """apt packages, the services' venv and this pack; prints each phase's time."""
    lay = Layout(state_dir)
    for d in (lay.state, lay.run, lay.logs, lay.data, lay.etc):
        os.makedirs(d, exist_ok=True)
    for phase, func in (("apt", ensure_apt), ("pip", lambda: ensure_venv(lay))):
        t0 = time.time()
        func()
        log("phase %s: %.0f s" % (phase, time.time() - t0))
    return install_pack(lay)


def choose_mistral_mode(lay, scaled=None):
    """Record the Mistral mode for this state dir: the flag, else $DEVCLOUD_MISTRAL_SCALE,
    else the mode chosen last time (default 'all'). Returns the mode."""
    if scaled is None and os.environ.get("DEVCLOUD_MISTRAL_SCALE", "") != "":
        scaled = os.environ["DEVCLOUD_MISTRAL_SCALE"] not in ("0", "false", "no")
    mode = mistral_mode(lay) if scaled is None else ("scaled" if scaled else "all")
    with open(mistral_mode_file(lay), "w") as f:
        f.write(mode + "\n")
    return mode


def up(state_dir, mistral_scale=None):
    pack_changed = install(state_dir)
    t0 = time.time()
    lay = Layout(state_dir)
    mode = choose_mistral_mode(lay, mistral_scale)
    sec = load_secrets(lay)
    changed = write_configs(lay, sec)
    init_mariadb(lay)
    all_services = services(lay)
    if pack_changed:
        changed.append("mistral")
    other = "all" if mode == "scaled" else "scaled"
    stale = [svc for svc in mistral_services(lay, other) if svc.running(lay)]
    stale += [svc for _, svc in all_services if svc.running(lay)
              and (svc.name in changed or svc.name.split("-")[0] in changed)]
    if stale:
        log("configuration or pack changed: restarting %s" % ", ".join(s.name for s in stale))
        stop_all(lay, stale)
    phases = []
    for phase, _ in all_services:
        if phase not in phases:
            phases.append(phase)
    for phase in phases:
        if phase == "identity":
            create_databases(lay, sec)
            sync_databases(lay)
            once(lay, "keystone", lambda: keystone_setup(lay, sec))
        group = [svc for p, svc in all_services if p == phase]
        started = [svc for svc in group if svc.start(lay)]
        for svc in started:
            svc.wait_ready(lay, timeout=120)
        if started:
            names = ", ".join(s.name for s in started)
            log("%s up: %s (%.0f s)" % (phase, names, time.time() - t0))
        if phase == "identity":
            bootstrap(lay, "identity")
    bootstrap(lay, "resources")
    write_client_files(lay, sec)
    log("phase devcloud up: %.0f s" % (time.time() - t0))
    print_usage(lay)


def write_client_files(lay, sec):
    def cloud(user, password, project):
        return ("  %s:\n    auth:\n      auth_url: http://%s:5000/v3\n      username: %s\n"
                "      password: %s\n      project_name: %s\n      user_domain_name: Default\n"
                "      project_domain_name: Default\n    region_name: RegionOne\n"
                "    identity_api_version: 3\n" % (
                    "devcloud" if user == "demo" else "devcloud-admin", HOST, user, password,
                    project))
    text = "clouds:\n" + cloud("demo", sec["demo_password"], "demo") + cloud(
        "admin", sec["admin_password"], "admin")
    write_private(os.path.join(lay.state, "clouds.yaml"), text)
    for name, user, project, pw in (("demo", "demo", "demo", sec["demo_password"]),
                                    ("admin", "admin", "admin", sec["admin_password"])):
        write_private(os.path.join(lay.state, "%s-openrc.sh" % name), "".join(
            "export %s=%s\n" % kv for kv in (
                ("OS_AUTH_URL", "http://%s:5000/v3" % HOST), ("OS_USERNAME", user),
                ("OS_PASSWORD", pw), ("OS_PROJECT_NAME", project),
                ("OS_USER_DOMAIN_NAME", "Default"), ("OS_PROJECT_DOMAIN_NAME", "Default"),
                ("OS_REGION_NAME", "RegionOne"), ("OS_IDENTITY_API_VERSION", "3"),
                ("OS_CLOUD", "devcloud" if name == "demo" else "devcloud-admin"),
                ("OS_CLIENT_CONFIG_FILE", os.path.join(lay.state, "clouds.yaml")),
                ("PATH", os.path.join(lay.venv, "bin") + ":$PATH"))))


def print_usage(lay):
    print("""
The devcloud runs on 127.0.0.1 (state, logs and configs in %(s)s).
  Member user (project demo):   source %(s)s/demo-openrc.sh
  Admin user:                   source %(s)s/admin-openrc.sh
  Then for example:             openstack stack list; mistral workflow-list
  clouds.yaml entries 'devcloud' and 'devcloud-admin' are in %(s)s/clouds.yaml
  What runs:                    tools/devcloud status
  Stop everything:              tools/devcloud down
""" % {"s": lay.state})


def down(state_dir):
    lay = Layout(state_dir)
    if not os.path.isdir(lay.run):
        log("nothing to stop (no %s)" % lay.run)
        return
    every = [svc for _, svc in services(lay)] + mistral_services(
        lay, "all" if mistral_mode(lay) == "scaled" else "scaled")
    stopped = stop_all(lay, every)
    if stopped:
        log("stopped %s" % ", ".join(stopped))
    busy = [name for name, port in PORTS.items() if port_open(port)]
    if busy:
        raise DevcloudError("still listening after down: %s" % ", ".join(
            "%s:%d" % (n, PORTS[n]) for n in busy))
    log("everything stopped")


def status(state_dir):
    lay = Layout(state_dir)
    rows, all_up = [], True
    for _, svc in services(lay):
        pid = svc.pid(lay)
        state = "running" if svc.running(lay) else "stopped"
        if state == "running" and svc.port and not port_open(svc.port):
            state = "starting"
        all_up = all_up and state == "running"
        rows.append((svc.name, state, str(pid or "-"), str(svc.port or "-")))
    print("%-23s %-9s %-8s %s" % ("service", "state", "pid", "port"))
    for row in rows:
        print("%-23s %-9s %-8s %s" % row)
    return 0 if all_up else 3


def stop(state_dir, name):
    lay = Layout(state_dir)
    if find_service(lay, name).stop(lay):
        log("stopped %s" % name)


def start(state_dir, name):
    lay = Layout(state_dir)
    svc = find_service(lay, name)
    svc.start(lay)
    svc.wait_ready(lay)
    log("started %s" % name)


def restart(state_dir, name):
    stop(state_dir, name)
    start(state_dir, name)


def kill(state_dir, name):
    """SIGKILL one service's whole process group at once: a crash, not a shutdown."""
    lay = Layout(state_dir)
    svc = find_service(lay, name)
    pgid = svc.pid(lay)
    if not pgid:
        log("%s was not running" % name)
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.time() + 10
    while group_alive(pgid) and time.time() < deadline:
        time.sleep(0.1)
    os.unlink(svc.pidfile(lay))
    log("killed %s (SIGKILL)" % name)

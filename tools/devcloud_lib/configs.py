"""Configuration files of the devcloud's services, as plain dicts rendered to INI.

Everything listens on 127.0.0.1; every service shares one MariaDB, one
RabbitMQ and one Keystone. Secrets come from the state directory's
``secrets.json`` and are only ever written into files of mode 0600.
"""

import os

HOST = "127.0.0.1"
KEYSTONE = "http://%s:5000" % HOST
REGION = "RegionOne"

PORTS = {
    "mariadb": 3306,
    "epmd": 4369,
    "rabbitmq": 5672,
    "keystone": 5000,
    "heat-api": 8004,
    "heat-api-cfn": 8000,
    "placement-api": 8778,
    "nova-api": 8774,
    "glance-api": 9292,
    "cinder-api": 8776,
    "neutron-fake": 9696,
    "mistral": 8989,
    "aodh-api": 8042,
}

# The policy mode current releases ship with: scope checks on, the new default rules
# (reader / member / project admin) and no deprecated ones. Keystone and Placement
# run it by default.
POLICY_NEW_DEFAULTS = {"enforce_scope": True, "enforce_new_defaults": True}

DATABASES = ("keystone", "heat", "nova_api", "nova", "nova_cell0", "placement",
             "glance", "cinder", "mistral", "aodh")


def render_ini(sections):
    """INI text from {section: {key: value}}; None values are left out."""
    lines = []
    for section, options in sections.items():
        lines.append("[%s]" % section)
        for key, value in options.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            lines.append("%s = %s" % (key, value))
        lines.append("")
    return "\n".join(lines)


class Layout:
    """Where the devcloud keeps things: all below one state directory."""

    def __init__(self, state_dir, venv=None):
        self.state = os.path.abspath(state_dir)
        self.venv = venv or os.path.join(self.state, "venv")
        self.etc = os.path.join(self.state, "etc")
        self.run = os.path.join(self.state, "run")
        self.logs = os.path.join(self.state, "logs")
        self.data = os.path.join(self.state, "data")

    def conf(self, service):
        name = "glance-api" if service == "glance" else service
        return os.path.join(self.etc, service, "%s.conf" % name)

    def bin(self, name):
        return os.path.join(self.venv, "bin", name)

    def venv_etc(self, *parts):
        return os.path.join(self.venv, "etc", *parts)


def _db(secrets, name):
    return "mysql+pymysql://devcloud:%s@%s/%s?charset=utf8" % (
        secrets["db_password"], HOST, name)


def _service_auth(secrets, user, **extra):
    """keystoneauth password options for a service user in the 'service' project."""
    section = {
        "auth_type": "password",
        "auth_url": KEYSTONE,
        "username": user,
        "password": secrets["service_password"],
        "project_name": "service",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region_name": REGION,
    }
    section.update(extra)
    return section


def _authtoken(secrets, user):
    """[keystone_authtoken]: validate users' tokens and accept Nova's service tokens."""
    return _service_auth(secrets, user, www_authenticate_uri=KEYSTONE + "/v3",
                         service_token_roles_required=True)


def _common(secrets):
    return {
        "transport_url": "rabbit://guest:guest@%s:5672/" % HOST,
        "use_stderr": True,
        "debug": False,
        "graceful_shutdown_timeout": 5,
    }


def keystone_conf(lay, secrets):
    return {
        # insecure_debug: a refused authentication says why in keystone.log and in the
        # answer (e.g. an EC2-signed alarm_url: bad signature, or no role on the project)
        # instead of only "requires authentication"; a test cloud on 127.0.0.1.
        "DEFAULT": {"use_stderr": True, "debug": False, "insecure_debug": True},
        "database": {"connection": _db(secrets, "keystone")},
        "token": {"provider": "fernet", "expiration": 14400},
        # Every password authentication checks a bcrypt hash: 0.25 s of CPU at the default
        # 12 rounds, about 1 ms at the minimum 4. The devcloud authenticates hundreds of
        # times a run (each CLI call, each trust-scoped token of Heat, Mistral's cron
        # triggers and the pack's trust connections) on two cores; a test cloud's users
        # need no protection against offline cracking. Applies to passwords set after it.
        "identity": {"password_hash_rounds": 4},
        "fernet_tokens": {"key_repository": os.path.join(lay.data, "keystone", "fernet-keys")},
        "fernet_receipts": {"key_repository": os.path.join(lay.data, "keystone", "fernet-keys")},
        "credential": {"key_repository": os.path.join(lay.data, "keystone", "credential-keys")},
        # An in-process cache: token validation builds role assignments from the DB
        # (~0.5 s a call without it). One worker (see cloud.py) keeps it coherent:
        # Keystone invalidates it on changes, but only in its own process.
        "cache": {"enabled": True, "backend": "dogpile.cache.memory"},
    }


def heat_conf(lay, secrets):
    default = _common(secrets)
    default.update({
        "heat_metadata_server_url": "http://%s:8000" % HOST,
        "heat_waitcondition_server_url": "http://%s:8000/v1/waitcondition" % HOST,
        "stack_domain_admin": "heat_domain_admin",
        "stack_domain_admin_password": secrets["service_password"],
        "stack_user_domain_name": "heat",
        "num_engine_workers": 2,
        "region_name_for_services": REGION,
        "max_nested_stack_depth": 6,
        "periodic_interval": 60,
    })
    return {
        "DEFAULT": default,
        "database": {"connection": _db(secrets, "heat"), "max_pool_size": 10},
        "keystone_authtoken": _authtoken(secrets, "heat"),
        "trustee": {
            "auth_type": "password",
            "auth_url": KEYSTONE,
            "username": "heat",
            "password": secrets["service_password"],
            "user_domain_name": "Default",
        },
        "clients_keystone": {"auth_uri": KEYSTONE},
        "clients": {"endpoint_type": "public"},
        "ec2authtoken": _service_auth(secrets, "heat", auth_uri=KEYSTONE + "/v3",
                                      endpoint_override=KEYSTONE, region_name=None),
        "paste_deploy": {"api_paste_config": lay.venv_etc("heat", "api-paste.ini")},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": POLICY_NEW_DEFAULTS,
    }


def placement_conf(lay, secrets):
    return {
        "DEFAULT": {"use_stderr": True, "debug": False},
        "placement_database": {"connection": _db(secrets, "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": _authtoken(secrets, "placement"),
    }


def nova_conf(lay, secrets):
    default = _common(secrets)
    default.update({
        "compute_driver": "fake.FakeDriverWithoutFakeNodes",
        "my_ip": HOST,
        "host": "devcloud",
        "state_path": os.path.join(lay.data, "nova"),
        "instances_path": os.path.join(lay.data, "nova", "instances"),
        "report_interval": 5,
        "service_down_time": 30,
        "heal_instance_info_cache_interval": -1,
        "osapi_compute_workers": 1,
        "metadata_workers": 1,
    })
    return {
        "DEFAULT": default,
        "api": {"auth_strategy": "keystone"},
        "wsgi": {"api_paste_config": lay.venv_etc("nova", "api-paste.ini")},
        "api_database": {"connection": _db(secrets, "nova_api")},
        "database": {"connection": _db(secrets, "nova")},
        "keystone_authtoken": _authtoken(secrets, "nova"),
        "placement": _service_auth(secrets, "nova"),
        "neutron": _service_auth(secrets, "neutron", endpoint_override="http://%s:9696" % HOST),
        "glance": {"endpoint_override": "http://%s:9292" % HOST, "region_name": REGION},
        "cinder": {"os_region_name": REGION, "catalog_info": "block-storage:cinderv3:publicURL",
                   **_service_auth(secrets, "nova")},
        # Cinder lets only Nova delete a server's attachment, proven by a service token
        # (the CVE-2023-2088 fix): without it every detach hangs in 'detaching'.
        "service_user": _service_auth(secrets, "nova", send_service_user_token=True),
        "scheduler": {"discover_hosts_in_cells_interval": 2, "workers": 1},
        "conductor": {"workers": 1},
        "oslo_concurrency": {"lock_path": os.path.join(lay.data, "nova", "locks")},
        "vnc": {"enabled": False},
        "os_vif_ovs": {},
        # Instance state changes become notifications, Ceilometer turns them into
        # events, Aodh's event alarms read those (the alarm chain of examples/).
        "oslo_messaging_notifications": {"driver": "messagingv2"},
        "notifications": {"notify_on_state_change": "vm_and_task_state",
                          "notification_format": "unversioned"},
        "oslo_policy": POLICY_NEW_DEFAULTS,
    }


def second_compute_conf(lay, secrets):
    """Overrides for a second nova-compute on this machine: another host name and state.

    Two compute hosts let tests lose one (stop its nova-compute) while the other
    still serves the standby of an active/passive pair.
    """
    state = os.path.join(lay.data, "nova-2")
    return {
        "DEFAULT": {"host": "devcloud-2", "state_path": state,
                    "instances_path": os.path.join(state, "instances")},
        "oslo_concurrency": {"lock_path": os.path.join(state, "locks")},
    }


def glance_conf(lay, secrets):
    images = os.path.join(lay.data, "glance")
    return {
        "DEFAULT": {"use_stderr": True, "debug": False, "enabled_backends": "fs:file",
                    "workers": 1},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": os.path.join(images, "images")},
        "os_glance_staging_store": {"filesystem_store_datadir": os.path.join(images, "staging")},
        "os_glance_tasks_store": {"filesystem_store_datadir": os.path.join(images, "tasks")},
        "database": {"connection": _db(secrets, "glance")},
        "keystone_authtoken": _authtoken(secrets, "glance"),
        "paste_deploy": {"flavor": "keystone"},
        "oslo_policy": POLICY_NEW_DEFAULTS,
    }


def cinder_conf(lay, secrets):
    default = _common(secrets)
    default.update({
        "host": "devcloud",
        "enabled_backends": "fake",
        "default_volume_type": "__DEFAULT__",
        "state_path": os.path.join(lay.data, "cinder"),
        "api_paste_config": lay.venv_etc("cinder", "api-paste.ini"),
        "glance_api_servers": "http://%s:9292" % HOST,
        "report_interval": 5,
        "service_down_time": 30,
        "osapi_volume_workers": 1,
        "auth_strategy": "keystone",
        "resource_query_filters_file": lay.venv_etc("cinder", "resource_filters.json"),
    })
    return {
        "DEFAULT": default,
        "fake": {
            "volume_driver": "cinder.tests.fake_driver.FakeLoggingVolumeDriver",
            "volume_backend_name": "fake",
        },
        "database": {"connection": _db(secrets, "cinder")},
        "keystone_authtoken": _authtoken(secrets, "cinder"),
        "nova": _service_auth(secrets, "cinder"),
        "oslo_concurrency": {"lock_path": os.path.join(lay.data, "cinder", "locks")},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": POLICY_NEW_DEFAULTS,
    }


def mistral_conf(lay, secrets):
    default = _common(secrets)
    return {
        "DEFAULT": default,
        "api": {"host": HOST, "port": PORTS["mistral"], "api_workers": 1},
        "database": {"connection": _db(secrets, "mistral"), "max_pool_size": 10},
        "keystone_authtoken": _authtoken(secrets, "mistral"),
        "pecan": {"auth_enable": True},
        "oslo_policy": POLICY_NEW_DEFAULTS,
        "executor": {"type": "remote"},
        # Cron triggers in the periodic server (part of --server all), not in the API
        # app: its thread takes Mistral's DB lock in the launcher process, and a worker
        # forked while it is held waits for it forever (every API call hangs).
        "cron_trigger": {"run_in_api": False},
        **MISTRAL_RECOVERY,
    }


# Mistral's own recovery, tuned so that a lost process costs seconds, not an hour.
# An action whose executor died (or whose run message was lost) sends no heartbeat:
# the engine fails it after first_heartbeat_timeout + max_missed * check_interval
# (10 + 12 * 5 = 70 s; defaults 3600 + 15 * 20 s) and the workflow's retry runs it
# again. The 60 s without heartbeats are above a RabbitMQ restart (about 20 s here),
# during which a running action cannot send any: a shorter limit failed live actions.
# A task left RUNNING with every action done (an engine died between the two) is
# completed by the integrity checker after execution_integrity_check_delay. A
# scheduled job (a retry's delay, a wait) held in memory by an engine that died is
# taken by another engine after pickup_job_after (default 60 s).
MISTRAL_RECOVERY = {
    "action_heartbeat": {"check_interval": 5, "max_missed_heartbeats": 12,
                         "first_heartbeat_timeout": 10},
    "engine": {"execution_integrity_check_delay": 10},
    "scheduler": {"pickup_job_after": 15},
}


def aodh_conf(lay, secrets):
    default = _common(secrets)
    default["event_alarm_cache_ttl"] = 0  # a new alarm is seen at once, not after 60 s
    return {
        "DEFAULT": default,
        "database": {"connection": _db(secrets, "aodh")},
        "keystone_authtoken": _authtoken(secrets, "aodh"),
        "service_credentials": _service_auth(secrets, "aodh", interface="public"),
        "api": {"paste_config": os.path.join(lay.etc, "aodh", "api-paste.ini"),
                "auth_mode": "keystone"},
        "listener": {"workers": 1},
        "notifier": {"workers": 1},
        "evaluator": {"workers": 1},
        "oslo_policy": POLICY_NEW_DEFAULTS,
    }


def ceilometer_conf(lay, secrets):
    """Only the notification agent, only events, published where aodh-listener reads."""
    default = _common(secrets)
    default["event_pipeline_cfg_file"] = os.path.join(lay.etc, "ceilometer",
                                                      "event_pipeline.yaml")
    return {
        "DEFAULT": default,
        "notification": {"pipelines": "event", "workers": 1},
        "service_credentials": _service_auth(secrets, "ceilometer", interface="public"),
    }


EVENT_PIPELINE = """---
sources:
  - name: event_source
    events: ["*"]
    sinks: [event_sink]
sinks:
  - name: event_sink
    publishers: ["notifier://?topic=alarm.all"]
"""


CONFIGS = {
    "keystone": keystone_conf,
    "heat": heat_conf,
    "placement": placement_conf,
    "nova": nova_conf,
    "glance": glance_conf,
    "cinder": cinder_conf,
    "mistral": mistral_conf,
    "aodh": aodh_conf,
    "ceilometer": ceilometer_conf,
}

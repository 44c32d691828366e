"""Every path of ha_actions.connection.get_connection, against mocked HTTP.

No cloud is needed: keystone and heat are requests-mock endpoints and the
token bodies are built with keystoneauth's own V3Token fixture.
"""

import json

import pytest
import requests_mock
from keystoneauth1 import fixture as ks_fixture
from mistral_lib.actions.context import ActionContext, ExecutionContext, SecurityContext
from oslo_config import cfg

import fake_cloud
from ha_actions import connection

TOKEN = "gAAAAAB-caller-token-do-not-leak"
TRUST_TOKEN = "gAAAAAB-trust-token-from-service-user"
KEYSTONE = "https://keystone.example.com/v3"
HEAT = "https://heat.example.com:8004/v1/p-1234"
HEAT_INTERNAL = "http://heat-int.example.com:8004/v1/p-1234"
TRUST_ID = "7e2d0fb2a1b44c4f9d1f3a5b6c7d8e9f"


def v3_token(trust_id=None):
    """A realistic Keystone v3 token response: {'token': {...}} with a catalog."""
    token = ks_fixture.V3Token(
        user_id="u-1",
        user_name="alice",
        user_domain_id="default",
        project_id="p-1234",
        project_name="demo",
        project_domain_id="default",
        trust_id=trust_id,
        trustor_user_id="u-1" if trust_id else None,
        trustee_user_id="u-mistral" if trust_id else None,
    )
    heat = token.add_service("orchestration", name="heat")
    heat.add_standard_endpoints(public=HEAT, internal=HEAT_INTERNAL, region="RegionOne")
    ks = token.add_service("identity", name="keystone")
    ks.add_standard_endpoints(public=KEYSTONE, internal=KEYSTONE, region="RegionOne")
    return token


def make_context(**security):
    defaults = {
        "auth_token": TOKEN,
        "auth_uri": KEYSTONE,
        "region_name": "RegionOne",
        "project_id": "p-1234",
        "project_name": "demo",
        "user_name": "alice",
    }
    defaults.update(security)
    return ActionContext(
        SecurityContext(**defaults),
        ExecutionContext(workflow_execution_id="wf-1", task_execution_id="t-1"),
    )


@pytest.fixture(autouse=True)
def clean_os_env(monkeypatch, tmp_path):
    """No OS_* variable or user clouds.yaml from the developer's shell leaks in."""
    import os

    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    # An override that does not exist: openstacksdk then finds no clouds.yaml
    # unless a test writes one (or /etc/openstack has one; tests that care
    # write their own file).
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "absent-clouds.yaml"))


def assert_no_token(exc):
    text = f"{exc} {exc!r}"
    assert TOKEN not in text
    assert TRUST_TOKEN not in text


def stack_get(mock, base=HEAT):
    return mock.get(base + "/stacks/web", json={"stack": {"id": "s-1", "stack_name": "web"}})


# --- path 1: the caller's token and catalog, reused as they are --------------


@pytest.mark.parametrize(
    "catalog_form",
    [
        pytest.param(lambda t: t["token"], id="bare-token-body"),
        pytest.param(lambda t: {"token": t["token"]}, id="wrapped-token-body"),
    ],
)
def test_token_and_catalog_reused_without_reauthentication(catalog_form):
    ctx = make_context(service_catalog=catalog_form(v3_token()))
    with requests_mock.Mocker() as m:
        get = stack_get(m)
        conn = connection.get_connection(ctx)
        resp = conn.orchestration.get("/stacks/web")

    assert resp.json()["stack"]["id"] == "s-1"
    assert get.call_count == 1
    assert get.last_request.headers["X-Auth-Token"] == TOKEN
    assert get.last_request.headers["User-Agent"].startswith(connection.APP_NAME)
    # Every request went to the catalog's heat endpoint: none to keystone.
    assert [r.url for r in m.request_history] == [HEAT + "/stacks/web"]


def test_token_path_wins_over_trust_when_catalog_present():
    """Alarm-triggered runs: trust-scoped token *with* catalog must not re-scope."""
    ctx = make_context(
        service_catalog=v3_token(trust_id=TRUST_ID)["token"],
        trust_id=TRUST_ID,
        is_trust_scoped=True,
    )
    with requests_mock.Mocker() as m:
        get = stack_get(m)
        connection.get_connection(ctx).orchestration.get("/stacks/web")
    assert get.last_request.headers["X-Auth-Token"] == TOKEN
    assert all(not r.url.startswith(KEYSTONE) for r in m.request_history)


def test_session_from_token_keeps_tls_settings():
    catalog = v3_token()["token"]
    sec = make_context(service_catalog=catalog, insecure=True).security
    assert connection.session_from_token(sec).verify is False
    sec = make_context(service_catalog=catalog, auth_cacert="/etc/ssl/ca.pem").security
    assert connection.session_from_token(sec).verify == "/etc/ssl/ca.pem"
    sec = make_context(service_catalog=catalog).security
    assert connection.session_from_token(sec).verify is True


def test_session_from_token_auth_ref_is_the_callers():
    sec = make_context(service_catalog=v3_token()["token"]).security
    sess = connection.session_from_token(sec)
    assert sess.get_token() == TOKEN
    assert sess.get_project_id() == "p-1234"
    assert (
        sess.get_endpoint(service_type="orchestration", interface="public", region_name="RegionOne")
        == HEAT
    )


# --- path 2: trust without catalog (cron / event triggers) -------------------


@pytest.fixture
def mistral_conf(monkeypatch, tmp_path):
    """A private oslo ConfigOpts standing in for Mistral's cfg.CONF."""

    def _load(keystone_authtoken):
        conf_file = tmp_path / "mistral.conf"
        lines = ["[keystone_authtoken]"]
        lines += [f"{k} = {v}" for k, v in keystone_authtoken.items()]
        conf_file.write_text("\n".join(lines) + "\n")
        conf = cfg.ConfigOpts()
        conf(args=[], project="mistral", default_config_files=[str(conf_file)])
        monkeypatch.setattr(cfg, "CONF", conf)
        return conf

    return _load


SERVICE_USER = {
    "auth_type": "password",
    "auth_url": KEYSTONE,
    "username": "mistral",
    "password": "service-password",
    "user_domain_name": "Default",
    "project_name": "service",
    "project_domain_name": "Default",
}


def test_trust_without_catalog_uses_service_user_scoped_to_trust(mistral_conf):
    mistral_conf(SERVICE_USER)
    ctx = make_context(service_catalog=None, trust_id=TRUST_ID, is_trust_scoped=True)
    with requests_mock.Mocker() as m:
        m.get(KEYSTONE, json=ks_fixture.V3Discovery(KEYSTONE))
        auth = m.post(
            KEYSTONE + "/auth/tokens",
            json=v3_token(trust_id=TRUST_ID),
            headers={"X-Subject-Token": TRUST_TOKEN},
            status_code=201,
        )
        get = stack_get(m)
        connection.get_connection(ctx).orchestration.get("/stacks/web")

    body = auth.last_request.json()["auth"]
    assert body["scope"] == {"OS-TRUST:trust": {"id": TRUST_ID}}
    assert body["identity"]["password"]["user"]["name"] == "mistral"
    assert get.last_request.headers["X-Auth-Token"] == TRUST_TOKEN


def test_trust_session_without_keystonemiddleware_options(mistral_conf):
    """The [keystone_authtoken] auth options need not be registered beforehand."""
    conf = mistral_conf(SERVICE_USER)
    assert "keystone_authtoken" not in conf  # nothing registered yet
    sec = make_context(service_catalog=None, trust_id=TRUST_ID).security
    sess = connection.session_from_trust(sec)
    with requests_mock.Mocker() as m:
        m.get(KEYSTONE, json=ks_fixture.V3Discovery(KEYSTONE))
        auth = m.post(
            KEYSTONE + "/auth/tokens",
            json=v3_token(trust_id=TRUST_ID),
            headers={"X-Subject-Token": TRUST_TOKEN},
            status_code=201,
        )
        assert sess.get_token() == TRUST_TOKEN
    # Scoped to the trust only: the conf's project_name=service is dropped.
    assert auth.last_request.json()["auth"]["scope"] == {"OS-TRUST:trust": {"id": TRUST_ID}}


def test_trust_without_auth_in_conf_is_a_clear_error(mistral_conf):
    mistral_conf({"www_authenticate_uri": KEYSTONE})
    ctx = make_context(service_catalog=None, trust_id=TRUST_ID)
    with pytest.raises(connection.ConnectionError) as err:
        connection.get_connection(ctx)
    assert "[keystone_authtoken]" in str(err.value)
    assert TRUST_ID in str(err.value)
    assert_no_token(err.value)


def test_trust_with_broken_auth_in_conf_is_a_clear_error(mistral_conf):
    incomplete = dict(SERVICE_USER)
    del incomplete["auth_url"]
    mistral_conf(incomplete)
    ctx = make_context(service_catalog=None, trust_id=TRUST_ID)
    with pytest.raises(connection.ConnectionError) as err:
        connection.get_connection(ctx)
    assert "[keystone_authtoken]" in str(err.value)
    assert "service-password" not in str(err.value)
    assert_no_token(err.value)
    assert err.value.__cause__ is None


# --- token without catalog nor trust ------------------------------------------


@pytest.mark.parametrize("catalog", [None, {}], ids=["none", "empty"])
def test_token_without_catalog_nor_trust_is_a_clear_error(catalog):
    ctx = make_context(service_catalog=catalog, trust_id=None)
    with requests_mock.Mocker() as m:
        with pytest.raises(connection.ConnectionError) as err:
            connection.get_connection(ctx)
        assert m.request_history == []
    assert "neither a service catalog nor a trust" in str(err.value)
    assert_no_token(err.value)


# --- path 3: outside Mistral, clouds.yaml / OS_CLOUD --------------------------


@pytest.fixture
def clouds_yaml(monkeypatch, tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(
        json.dumps(
            {
                "clouds": {
                    "devcloud": {
                        "auth_type": "v3token",
                        "auth": {
                            "auth_url": KEYSTONE,
                            "token": TOKEN,
                            "project_id": "p-1234",
                        },
                        "region_name": "RegionOne",
                    }
                }
            }
        )
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return path


@pytest.mark.parametrize(
    "context",
    [
        pytest.param(None, id="no-context"),
        pytest.param(ActionContext(None, ExecutionContext()), id="no-security"),
        pytest.param(make_context(auth_token=None), id="auth-disabled"),
    ],
)
def test_outside_mistral_uses_clouds_yaml(clouds_yaml, monkeypatch, context):
    monkeypatch.setenv("OS_CLOUD", "devcloud")
    conn = connection.get_connection(context)
    assert conn.config.name == "devcloud"
    assert conn.config.get_region_name() == "RegionOne"
    assert conn.config.get_auth_args()["auth_url"] == KEYSTONE


def test_outside_mistral_single_cloud_without_os_cloud(clouds_yaml):
    assert connection.get_connection(None).config.name == "devcloud"


def test_os_cloud_naming_a_missing_cloud_is_a_clear_error(clouds_yaml, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "no-such-cloud")
    with pytest.raises(connection.ConnectionError) as err:
        connection.get_connection(None)
    message = str(err.value)
    assert "OS_CLOUD=no-such-cloud" in message
    assert "no-such-cloud was not found" in message
    assert_no_token(err.value)
    assert err.value.__cause__ is None


def test_broken_cloud_error_does_not_show_its_token(monkeypatch, tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(
        json.dumps({"clouds": {"half": {"auth_type": "v3token", "auth": {"token": TOKEN}}}})
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.setenv("OS_CLOUD", "half")
    with pytest.raises(connection.ConnectionError) as err:
        connection.get_connection(None)
    assert "auth_url" in str(err.value)
    assert_no_token(err.value)


def test_no_clouds_yaml_at_all_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("openstack.config.loader.CONFIG_FILES", [])
    monkeypatch.setattr("openstack.config.loader.SECURE_FILES", [])
    with pytest.raises(connection.ConnectionError) as err:
        connection.get_connection(None)
    assert "OS_CLOUD=<unset>" in str(err.value)


# --- the base action ------------------------------------------------------------


def test_openstack_action_connect_uses_the_context():
    class Probe(connection.OpenStackAction):
        """Probe."""

        def run(self, context):
            return self.connect(context)

    ctx = make_context(service_catalog=v3_token()["token"])
    with requests_mock.Mocker() as m:
        get = stack_get(m)
        Probe().run(ctx).orchestration.get("/stacks/web")
    assert get.last_request.headers["X-Auth-Token"] == TOKEN


def _http(status):
    from openstack import exceptions as sdk_exceptions

    return sdk_exceptions.HttpException("%d: Server Error" % status, http_status=status)


def test_transient_errors_are_tried_again_until_the_call_succeeds():
    from keystoneauth1 import exceptions as ks_exceptions

    failures = [ks_exceptions.ConnectFailure("Connection refused"), _http(503), _http(500)]

    def call():
        if failures:
            raise failures.pop(0)
        return {"ok": True}

    clock = fake_cloud.Clock()
    assert connection.readable(call, budget=45, sleep=clock.sleep, clock=clock) == {"ok": True}
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_a_cloud_that_stays_away_is_a_clear_error_after_the_budget():
    from keystoneauth1 import exceptions as ks_exceptions

    calls = []

    def call():
        calls.append(1)
        raise ks_exceptions.ConnectFailure("Unable to establish connection to heat")

    clock = fake_cloud.Clock()
    result = connection.readable(call, budget=20, sleep=clock.sleep, clock=clock)
    assert result.is_error()
    assert "did not answer for %d s (%d tries)" % (clock.now, len(calls)) in result.error
    assert "Unable to establish connection to heat" in result.error
    assert "run the workflow again" in result.error
    assert sum(clock.sleeps) <= 20 and len(calls) >= 4


def test_slow_failures_still_get_a_few_tries():
    from keystoneauth1 import exceptions as ks_exceptions

    clock = fake_cloud.Clock()
    calls = []

    def call():  # each call hangs 60 s (an RPC timeout behind the API), then fails
        calls.append(1)
        clock.now += 60
        if len(calls) < 3:
            raise ks_exceptions.ConnectFailure("timed out")
        return "ok"

    assert connection.readable(call, budget=45, sleep=clock.sleep, clock=clock) == "ok"
    assert len(calls) == connection.TRANSIENT_MIN_TRIES


@pytest.mark.parametrize("exc_status", [400, 404, 409])
def test_a_refusal_is_not_tried_again(exc_status):
    calls = []

    def call():
        calls.append(1)
        raise _http(exc_status)

    clock = fake_cloud.Clock()
    result = connection.readable(call, budget=45, sleep=clock.sleep, clock=clock)
    assert result.is_error() and len(calls) == 1 and clock.sleeps == []


def test_a_refused_token_says_it_expired_and_what_to_do():
    def call():
        raise _http(401)

    result = connection.readable(call, budget=45)
    assert "was refused (401: expired or revoked)" in result.error
    assert "Start the workflow again" in result.error


def test_an_expired_token_in_the_context_fails_before_any_call():
    context = make_context(service_catalog=v3_token(), expires_at="2020-01-01T00:00:00.000000Z")
    with pytest.raises(connection.TokenExpired) as err:
        connection.get_connection(context)
    assert "expired at 2020-01-01T00:00:00+00:00" in str(err.value)
    assert TOKEN not in str(err.value)


def test_a_valid_token_expiry_passes():
    connection.check_not_expired(make_context(expires_at="2999-01-01T00:00:00Z").security)
    connection.check_not_expired(make_context(expires_at=None).security)
    connection.check_not_expired(make_context(expires_at="not a date").security)


def test_a_mistral_step_without_a_token_says_mistral_lost_it(monkeypatch):
    monkeypatch.delenv("OS_CLOUD", raising=False)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml")
    import openstack

    monkeypatch.setattr(openstack, "connect", lambda **kw: (_ for _ in ()).throw(
        RuntimeError("no cloud")))
    context = make_context(auth_token=None, project_id=None)
    with pytest.raises(connection.ConnectionError) as err:
        connection.get_connection(context)
    assert "without the caller's token: Mistral lost it" in str(err.value)
    assert "Run the workflow again" in str(err.value)


def test_a_400_that_only_says_a_service_behind_heat_was_unreachable_is_tried_again():
    """Heat answers 400 to a PATCH whose validation could not reach Nova (seen in the
    fault suite with nova-api down): asked again; any other 400 is final."""
    from openstack import exceptions as sdk_exceptions

    unreachable = sdk_exceptions.HttpException(
        "400: Client Error for url: http://heat/v1/p/stacks/s/i, ConnectFailure: : "
        "resources.anti_affinity: : Unable to establish connection to "
        "http://127.0.0.1:8774/v2.1", http_status=400)
    invalid = sdk_exceptions.HttpException(
        "400: Client Error: The Parameter (active) was not provided.", http_status=400)
    assert connection.is_transient(unreachable) and not connection.is_transient(invalid)
    failures = [unreachable]

    def call():
        if failures:
            raise failures.pop(0)
        return "patched"

    clock = fake_cloud.Clock()
    assert connection.readable(call, budget=45, sleep=clock.sleep, clock=clock) == "patched"
    assert connection.readable(lambda: (_ for _ in ()).throw(invalid), budget=45,
                               sleep=clock.sleep, clock=clock).is_error()

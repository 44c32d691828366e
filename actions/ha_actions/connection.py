"""One place that turns a Mistral action context into an openstacksdk Connection.

Three paths, in this order:

1. Inside Mistral with the caller's token and catalog (``context.security``):
   reuse them as they are (keystoneauth ``AccessInfoPlugin``). Nothing is
   re-authenticated, so trust-scoped tokens (alarm-triggered runs) work too.
2. Inside Mistral under a trust but without a catalog (cron and event
   triggers): authenticate as Mistral's own service user, scoped to the trust,
   from Mistral's ``[keystone_authtoken]`` options, as Mistral itself does.
3. Outside Mistral (no context, or no token): ``clouds.yaml`` / ``OS_CLOUD``.
"""

import datetime
import functools
import os
import time

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.access import access
from keystoneauth1.identity import access as access_plugin
from mistral_lib import actions

from ha_actions.errors import OperatorError

APP_NAME = "ha-actions"
# Seconds one request may take: Heat's API answers a lost engine call after its RPC
# timeout (60 s), so a little more than that.
REQUEST_TIMEOUT = 75
# Seconds an action keeps retrying a call the cloud could not answer (a service
# restarting, a 5xx): every pack action is idempotent, so it is run again whole.
TRANSIENT_BUDGET = 45
# ...and at least this many tries: one lost call may take the whole budget (Heat's API
# answers 500 only after its 60 s RPC timeout when heat-engine restarted under the call).
TRANSIENT_MIN_TRIES = 3
TRANSIENT_STATUS = (500, 502, 503, 504)


class ConnectionError(OperatorError):
    """No usable credentials could be found for an action."""


class TokenExpired(OperatorError):
    """The token this execution runs with is no longer valid: nothing more can be done."""


def _security(context):
    return getattr(context, "security", None) if context is not None else None


def session_from_token(security):
    """A keystoneauth session that reuses the caller's token and catalog."""
    body = security.service_catalog
    if isinstance(body, dict) and "token" in body:
        body = body["token"]
    auth_ref = access.create(body={"token": body}, auth_token=security.auth_token)
    plugin = access_plugin.AccessInfoPlugin(auth_ref, auth_url=security.auth_uri)
    return ks_session.Session(
        auth=plugin,
        verify=_verify(security),
        app_name=APP_NAME,
        timeout=REQUEST_TIMEOUT,
    )


def session_from_trust(security):
    """A session for Mistral's service user scoped to the caller's trust."""
    from keystoneauth1 import loading
    from oslo_config import cfg

    conf = cfg.CONF
    try:
        # keystonemiddleware registers these options only when Mistral's API
        # module is imported; a process that never imports it would fail with
        # NoSuchOptError instead of reading them. Registering them again is a
        # no-op.
        loading.register_auth_conf_options(conf, "keystone_authtoken")
        auth = loading.load_auth_from_conf_options(
            conf,
            "keystone_authtoken",
            trust_id=security.trust_id,
            project_id=None,
            project_name=None,
            project_domain_name=None,
            project_domain_id=None,
            domain_id=None,
            domain_name=None,
        )
    except Exception as exc:  # noqa: BLE001 - any loader failure means the same thing
        raise ConnectionError(
            f"The action runs under trust {security.trust_id} but has no service catalog, "
            "and Mistral's [keystone_authtoken] options do not give a service user to use "
            f"the trust ({type(exc).__name__}). Set auth_type, auth_url, username and "
            "password there."
        ) from None
    if auth is None:
        raise ConnectionError(
            f"The action runs under trust {security.trust_id} but has no service catalog, "
            "and Mistral's [keystone_authtoken] has no auth_type: cannot use the trust."
        )
    return ks_session.Session(auth=auth, verify=_verify(security), app_name=APP_NAME,
                              timeout=REQUEST_TIMEOUT)


def _verify(security):
    if getattr(security, "insecure", False):
        return False
    return getattr(security, "auth_cacert", None) or True


def get_connection(context=None):
    """Return an openstacksdk Connection for this action's caller."""
    import openstack

    security = _security(context)
    region = getattr(security, "region_name", None) if security else None
    if security is not None and security.auth_token:
        check_not_expired(security)
        if security.service_catalog:
            sess = session_from_token(security)
        elif security.trust_id:
            sess = session_from_trust(security)
        else:
            raise ConnectionError(
                "The action context has a token but neither a service catalog nor a "
                "trust: cannot find the OpenStack endpoints."
            )
        return openstack.connection.Connection(session=sess, region_name=region, app_name=APP_NAME)
    cloud = os.environ.get("OS_CLOUD")
    try:
        return openstack.connect(cloud=cloud, app_name=APP_NAME)
    except Exception as exc:  # noqa: BLE001
        if getattr(getattr(context, "execution", None), "workflow_execution_id", None):
            raise ConnectionError(LOST_CREDENTIALS) from None
        raise ConnectionError(
            "Not running inside Mistral and no usable clouds.yaml entry "
            f"(OS_CLOUD={cloud or '<unset>'}): {exc}"
        ) from None


LOST_CREDENTIALS = (
    "This step runs in a Mistral execution but without the caller's token: Mistral lost "
    "it. That happens when the executor that ran an earlier try of this step died: "
    "Mistral's heartbeat checker fails that try and the retry goes on under the "
    "checker's own context, which carries no token (Mistral 23). Nothing more was changed "
    "by this step; what earlier steps did is in the report. Run the workflow again (a "
    "re-fired alarm does, with a new trust token).")


def _expiry(security):
    """The token's expiry as an aware datetime, or None when the context does not say."""
    value = getattr(security, "expires_at", None)
    if not value:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def check_not_expired(security, now=None):
    """TokenExpired if the caller's token has expired: no call could succeed with it."""
    expiry = _expiry(security)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if expiry is not None and expiry <= now:
        raise TokenExpired(expired_message(expiry.isoformat()))


def expired_message(expiry=None):
    return (
        "The token this execution runs with %s, so this step could not run (Mistral "
        "passes the token of whoever started the execution and never renews it). What "
        "earlier steps changed stays as the report says. Start the workflow again: a "
        "manual run gets a new token, an alarm-triggered run a new trust token each "
        "time." % ("expired at %s" % expiry if expiry else "was refused (401: expired or "
                   "revoked)"))


# Heat answers 400 to a PATCH whose validation could not reach another service (its
# server group check calls Nova): "ConnectFailure: ... Unable to establish connection".
UNREACHABLE_IN_A_400 = ("ConnectFailure", "Unable to establish connection",
                        "ServiceUnavailable", "Connection refused")


def is_transient(exc):
    """The cloud could not answer (unreachable, timed out, 5xx, or a 400 that only says a
    service behind the API could not be reached): worth asking again."""
    from openstack import exceptions as sdk_exceptions

    if isinstance(exc, (ks_exceptions.ConnectionError, ks_exceptions.RetriableConnectionFailure,
                        ks_exceptions.ServiceUnavailable, ks_exceptions.GatewayTimeout,
                        ks_exceptions.BadGateway, ks_exceptions.InternalServerError)):
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(exc, sdk_exceptions.HttpException) and status == 400:
        return any(text in str(exc) for text in UNREACHABLE_IN_A_400)
    return isinstance(exc, sdk_exceptions.HttpException) and status in TRANSIENT_STATUS


# How often a bounded wait (wait_s) looks again: as fine as the benchmark's own detector
# allows without loading the APIs (one GET or a few per look).
LONG_POLL_INTERVAL = 0.25


def long_poll(look, waiting, wait_s=0, interval=LONG_POLL_INTERVAL, sleep=time.sleep,
              clock=time.monotonic):
    """``look()``, done again every ``interval`` s for at most ``wait_s`` s while
    ``waiting(answer)``: the end of a wait is seen within ``interval`` instead of a
    workflow retry's delay, and the action still ends in bounded time (the workflow's
    retry takes over). A look after the first that the cloud cannot answer ends the wait
    with the last answer: the retry's next action gets the whole transient budget
    (``readable``), not what this one left of it."""
    deadline = clock() + max(0, wait_s or 0)
    answer = look()
    while waiting(answer) and clock() + interval <= deadline:
        sleep(interval)
        try:
            answer = look()
        except Exception as exc:
            if not is_transient(exc):
                raise
            break
    return answer


def _message(exc):
    if getattr(exc, "status_code", None) == 401 or isinstance(exc, ks_exceptions.Unauthorized):
        return expired_message()
    return str(exc) or type(exc).__name__


def readable(fn, budget=None, sleep=time.sleep, clock=time.monotonic):
    """Run ``fn()``; operator errors and API errors become a Result(error=message).

    For every action: the pure ones (selection, alarm) raise OperatorErrors too.
    A transient failure (service unreachable, timeout, 5xx) runs ``fn`` again, with
    a growing pause, for up to ``budget`` seconds (TRANSIENT_BUDGET) and at least
    TRANSIENT_MIN_TRIES times when the budget allows any retry: every pack action is
    idempotent. After that the error says how long the cloud did not answer.
    """
    from openstack import exceptions as sdk_exceptions  # on use, as in get_connection

    budget = TRANSIENT_BUDGET if budget is None else budget
    start = clock()
    deadline, pause, tries = start + budget, 1.0, 0
    while True:
        tries += 1
        try:
            return fn()
        except OperatorError as exc:
            return actions.Result(error=str(exc))
        except (sdk_exceptions.SDKException, ks_exceptions.ClientException) as exc:
            if not is_transient(exc):
                return actions.Result(error=_message(exc))
            out_of_time = clock() + pause > deadline
            if budget <= 0 or (out_of_time and tries >= TRANSIENT_MIN_TRIES):
                return actions.Result(error="The cloud did not answer for %d s (%d tries), "
                                            "last: %s. Nothing more was changed by this step; "
                                            "run the workflow again once the service is back."
                                      % (clock() - start, tries, _message(exc)))
        sleep(pause)
        pause = min(pause * 2, 8.0)


def head_start(start):
    """``start()``'s answer, or None when it did not go out whole (refused, or the cloud
    did not answer): a move that starts the next one as soon as it sees its own end
    leaves such a start to the next move's own step, which starts it again and reports a
    refusal in its own words."""
    from openstack import exceptions as sdk_exceptions

    try:
        answer = start()
    except (sdk_exceptions.SDKException, ks_exceptions.ClientException):
        return None
    return None if isinstance(answer, actions.Result) else answer


class OpenStackAction(actions.Action):
    """Base for pack actions: ``self.connect(context)`` gives the caller's Connection.

    Subclasses keep only JSON-serialisable inputs on ``self``.
    """

    def connect(self, context):
        return get_connection(context)


class CallAction(OpenStackAction):
    """An action that hands its inputs (``self.args``) to ``call(connect, **args)``, a
    module function; ``connect()`` makes the caller's Connection once, on first use (a
    bad input is refused before any call)."""

    call = None

    def run(self, context):
        connect = functools.lru_cache(maxsize=1)(lambda: self.connect(context))
        return readable(lambda: type(self).call(connect, **self.args))

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

import os

from keystoneauth1 import session as ks_session
from keystoneauth1.access import access
from keystoneauth1.identity import access as access_plugin
from mistral_lib import actions

APP_NAME = "ha-actions"


class OperatorError(Exception):
    """An error the operator can act on: its message says what was wrong and what to do."""


class ConnectionError(OperatorError):
    """No usable credentials could be found for an action."""


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
    return ks_session.Session(auth=auth, verify=_verify(security), app_name=APP_NAME)


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
        raise ConnectionError(
            "Not running inside Mistral and no usable clouds.yaml entry "
            f"(OS_CLOUD={cloud or '<unset>'}): {exc}"
        ) from None


def readable(fn):
    """Run ``fn()``; operator errors and API errors become a Result(error=message).

    For every action: the pure ones (selection, alarm) raise OperatorErrors too.
    """
    from openstack import exceptions as sdk_exceptions  # on use, as in get_connection

    try:
        return fn()
    except (OperatorError, sdk_exceptions.SDKException) as exc:
        return actions.Result(error=str(exc))


class OpenStackAction(actions.Action):
    """Base for pack actions: ``self.connect(context)`` gives the caller's Connection.

    Subclasses keep only JSON-serialisable inputs on ``self``.
    """

    def connect(self, context):
        return get_connection(context)

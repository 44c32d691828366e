"""OpenStackClient plugin hooks (``openstack.cli.extension`` entry point ``ha``), the way
python-mistralclient's ``mistralclient/osc/plugin.py`` is written."""

import logging

from osc_lib import utils

LOG = logging.getLogger(__name__)

DEFAULT_API_VERSION = "1"
API_NAME = "ha"
API_VERSION_OPTION = "os_ha_api_version"
API_VERSIONS = {"1": "ha_actions.cli.mistral.Client"}


def make_client(instance):
    """The pack's Mistral client on the OSC client manager's keystoneauth session."""
    client_class = utils.get_client_class(API_NAME, instance._api_version[API_NAME],
                                          API_VERSIONS)
    endpoint = instance.get_endpoint_for_service_type(
        "workflowv2", region_name=instance.region_name, interface=instance.interface)
    LOG.debug("Mistral endpoint for openstack ha: %s", endpoint)
    return client_class(instance.session, endpoint)


def build_option_parser(parser):
    """The global option selecting the command set (only v1)."""
    parser.add_argument(
        "--os-ha-api-version", metavar="<ha-api-version>",
        default=utils.env("OS_HA_API_VERSION", default=DEFAULT_API_VERSION),
        help="openstack ha command set version, default=%s (Env: OS_HA_API_VERSION)"
             % DEFAULT_API_VERSION)
    return parser

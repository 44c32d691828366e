"""WSGI entry points for gunicorn, one factory per devcloud API service.

oslo.config parses ``sys.argv`` inside the services' app factories and would
choke on gunicorn's own flags, so each factory first replaces ``sys.argv``
with just the service's ``--config-file`` (from ``DEVCLOUD_CONF``).
Used as ``gunicorn 'wsgi_apps:heat_api()'``.
"""

import os
import sys


def _only_config_file():
    sys.argv = [sys.argv[0], "--config-file", os.environ["DEVCLOUD_CONF"]]


def keystone():
    sys.argv = sys.argv[:1]
    from keystone.wsgi import api

    return api.application


def heat_api():
    _only_config_file()
    from heat.wsgi import api

    return api.application


def heat_api_cfn():
    _only_config_file()
    from heat.wsgi import cfn

    return cfn.application


def nova_api():
    sys.argv = sys.argv[:1]
    from nova.wsgi import osapi_compute

    return osapi_compute.application


def placement_api():
    sys.argv = sys.argv[:1]
    from placement.wsgi import api

    return api.application


def glance_api():
    sys.argv = sys.argv[:1]
    from glance.wsgi import api

    return api.application


def cinder_api():
    _only_config_file()
    from cinder.wsgi import api

    return api.application


def aodh_api():
    _only_config_file()
    from aodh.api import app

    return app.build_wsgi_app(argv=sys.argv[1:])


def fake_neutron():
    from fake_neutron import application

    return application

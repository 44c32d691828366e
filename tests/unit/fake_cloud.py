"""An openstacksdk Connection on a made-up catalog, for requests-mock tests.

It authenticates nothing: the token and catalog are handed over as Mistral does.
"""

import openstack
from keystoneauth1 import fixture as ks_fixture
from keystoneauth1 import session as ks_session
from keystoneauth1.access import access
from keystoneauth1.identity import access as access_plugin

SERVICE_NAMES = {"orchestration": "heat", "compute": "nova", "block-storage": "cinder",
                 "workflowv2": "mistral"}


def connection(token, project_id, endpoints):
    """A Connection whose catalog holds endpoints {service type: public URL}."""
    body = ks_fixture.V3Token(project_id=project_id, project_name="demo", user_id="u-1")
    for service_type, url in endpoints.items():
        body.add_service(service_type, name=SERVICE_NAMES[service_type]).add_standard_endpoints(
            public=url, region="RegionOne")
    plugin = access_plugin.AccessInfoPlugin(access.create(body=body, auth_token=token),
                                            auth_url="https://keystone.example.com/v3")
    return openstack.connection.Connection(session=ks_session.Session(auth=plugin),
                                           region_name="RegionOne")


class Clock:
    """A fake monotonic clock that only sleep() moves forward; ``sleeps`` lists the pauses."""

    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

"""Run inside the devcloud venv: create what the services and tests need.

``bootstrap.py STATE identity``: projects, users, roles, Heat's stack-user
domain and the service catalog. ``bootstrap.py STATE resources``: a flavor
and an image, then wait until compute, volume, orchestration and workflow
services answer. Every step finds before it creates, so it can run again.
"""

import json
import os
import sys
import time

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

HOST = "127.0.0.1"
KEYSTONE = "http://%s:5000/v3" % HOST
# Service users created in the "service" project; each gets admin + service.
SERVICE_USERS = ("heat", "nova", "placement", "glance", "cinder", "mistral", "neutron", "aodh",
                 "ceilometer")
CATALOG = [
    # name, type, url
    ("heat", "orchestration", "http://%s:8004/v1/%%(project_id)s" % HOST),
    ("heat-cfn", "cloudformation", "http://%s:8000/v1" % HOST),
    ("nova", "compute", "http://%s:8774/v2.1" % HOST),
    ("placement", "placement", "http://%s:8778" % HOST),
    ("glance", "image", "http://%s:9292" % HOST),
    ("cinder", "block-storage", "http://%s:8776/v3/%%(project_id)s" % HOST),
    ("cinderv3", "volumev3", "http://%s:8776/v3/%%(project_id)s" % HOST),
    ("neutron", "network", "http://%s:9696" % HOST),
    ("mistral", "workflowv2", "http://%s:8989/v2" % HOST),
    ("aodh", "alarming", "http://%s:8042" % HOST),
]
ROLES = ("member", "reader", "service", "heat_stack_owner", "heat_stack_user")


def admin_connection(secrets):
    auth = v3.Password(auth_url=KEYSTONE, username="admin", password=secrets["admin_password"],
                       project_name="admin", user_domain_name="Default",
                       project_domain_name="Default")
    # A request timeout, so that a call stuck on a service still starting is retried.
    return openstack.connection.Connection(session=ks_session.Session(auth=auth, timeout=30),
                                           region_name="RegionOne")


def ensure(find, create):
    return find() or create()


def grant(idn, role, user, project=None, domain=None):
    if project is not None:
        idn.assign_project_role_to_user(project, user, role)
    else:
        idn.assign_domain_role_to_user(domain, user, role)


def identity(conn, secrets):
    idn = conn.identity
    default = idn.find_domain("default")
    roles = {name: ensure(lambda n=name: idn.find_role(n),
                          lambda n=name: idn.create_role(name=n)) for name in ROLES}
    roles["admin"] = idn.find_role("admin")
    service = ensure(lambda: idn.find_project("service", domain_id=default.id),
                     lambda: idn.create_project(name="service", domain_id=default.id))
    for name in SERVICE_USERS:
        user = ensure(lambda n=name: idn.find_user(n, domain_id=default.id),
                      lambda n=name: idn.create_user(name=n, password=secrets["service_password"],
                                                     domain_id=default.id))
        grant(idn, roles["admin"], user, project=service)
        grant(idn, roles["service"], user, project=service)
    demo = ensure(lambda: idn.find_project("demo", domain_id=default.id),
                  lambda: idn.create_project(name="demo", domain_id=default.id))
    demo_user = ensure(lambda: idn.find_user("demo", domain_id=default.id),
                       lambda: idn.create_user(name="demo", password=secrets["demo_password"],
                                               domain_id=default.id, default_project_id=demo.id))
    grant(idn, roles["member"], demo_user, project=demo)
    grant(idn, roles["heat_stack_owner"], demo_user, project=demo)
    admin_project = idn.find_project("admin", domain_id=default.id)
    grant(idn, roles["admin"], idn.find_user("admin", domain_id=default.id), project=demo)
    del admin_project
    heat_domain = ensure(lambda: idn.find_domain("heat"),
                         lambda: idn.create_domain(name="heat",
                                                   description="Heat stack-user domain"))
    heat_admin = ensure(lambda: idn.find_user("heat_domain_admin", domain_id=heat_domain.id),
                        lambda: idn.create_user(name="heat_domain_admin",
                                                password=secrets["service_password"],
                                                domain_id=heat_domain.id))
    grant(idn, roles["admin"], heat_admin, domain=heat_domain)
    region = "RegionOne"
    for name, stype, url in CATALOG:
        svc = ensure(lambda n=name: idn.find_service(n),
                     lambda n=name, t=stype: idn.create_service(name=n, type=t, is_enabled=True))
        have = {ep.interface for ep in idn.endpoints(service_id=svc.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                idn.create_endpoint(service_id=svc.id, interface=interface, url=url,
                                    region_id=region)
    print("identity ready")


def wait_for(what, check, timeout=180):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - services still starting
            last = exc
        time.sleep(1)
    raise SystemExit("devcloud: %s not ready after %d s (last error: %s)" % (what, timeout, last))


def resources(conn, state):
    if not conn.compute.find_flavor("ha.tiny"):
        conn.compute.create_flavor(name="ha.tiny", ram=64, vcpus=1, disk=1, is_public=True)
    if not conn.image.find_image("ha-fake-image"):
        conn.image.create_image(name="ha-fake-image", disk_format="raw",
                                container_format="bare", visibility="public",
                                data=b"devcloud fake image\n" * 64)
    demo = conn.identity.find_project("demo", domain_id="default")
    conn.set_compute_quotas(demo.id, instances=200, cores=400, ram=200 * 1024)
    conn.set_volume_quotas(demo.id, volumes=200, gigabytes=2000, snapshots=200)
    wait_for("both nova-compute hosts (up and mapped into cell1)", lambda: sum(
        s.binary == "nova-compute" and s.state == "up" for s in conn.compute.services()) == 2
        and len(list(conn.compute.hypervisors())) == 2)
    wait_for("cinder-volume", lambda: any(
        s.binary == "cinder-volume" and s.state == "up" for s in conn.block_storage.services()))
    wait_for("heat-engine", lambda: conn.orchestration.get("/stacks").status_code == 200
             and any(s.get("status") == "up" for s in conn.orchestration.get(
                 "/services").json().get("services", [])))
    wait_for("mistral", lambda: conn.workflow.get("/workflows").status_code == 200)
    print("resources ready")


def main():
    state, step = sys.argv[1], sys.argv[2]
    with open(os.path.join(state, "secrets.json")) as f:
        secrets = json.load(f)
    conn = admin_connection(secrets)
    if step == "identity":
        identity(conn, secrets)
    else:
        resources(conn, state)


if __name__ == "__main__":
    main()

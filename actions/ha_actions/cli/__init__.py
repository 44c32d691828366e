"""``openstack ha``: the OpenStackClient plugin of the pack (pack install/show, member
replace, volume failover, execution show/list).

Only the CLI imports this package (osc-lib, cliff: the ``cli`` extra); the actions
Mistral's executors load never do.
"""

"""Hypothesis strategies for what a caller or Aodh may send: shared by the property tests
(test_fuzz.py) and the fault suite's sample sent to the real ha.v1.on_alarm. Every value is
JSON (no NaN, no infinity), as Aodh's notifier would POST it."""

from hypothesis import strategies as st

SCALARS = (st.none() | st.booleans() | st.integers(-2**53, 2**53)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=10), inner, max_size=4), max_leaves=12)
STATES = st.sampled_from(["ok", "alarm", "insufficient data", "ALARM", "", None]) | st.text(
    max_size=8)
UUIDS = st.uuids().map(str)
TRAIT = st.tuples(st.sampled_from(["instance_id", "resource_id", "state", "host"]) | st.text(
    max_size=8), st.integers(0, 4), UUIDS | SCALARS).map(list)
EVENT = st.fixed_dictionaries({"event_type": st.text(max_size=20), "traits": st.lists(
    TRAIT | JSON, max_size=4)}) | JSON
REASON_DATA = st.fixed_dictionaries({"type": st.sampled_from(
    ["event", "loadbalancer_member_health", "threshold", "composite", "gnocchi"]) | SCALARS},
    optional={"event": EVENT, "unhealthy_members": st.lists(st.fixed_dictionaries(
        {"id": UUIDS | SCALARS}) | JSON, max_size=3) | JSON, "stack_id": UUIDS | SCALARS,
        "asg_id": UUIDS | SCALARS}) | JSON
BODIES = st.fixed_dictionaries({}, optional={
    "alarm_id": UUIDS | SCALARS, "alarm_name": SCALARS, "severity": SCALARS,
    "previous": STATES, "current": STATES, "reason": SCALARS, "reason_data": REASON_DATA})
# Bodies that look like Aodh's (every top-level key right, a real state) with a fuzzed
# reason_data: they get past the first checks and exercise the decision itself.
REAL_STATES = st.sampled_from(["ok", "alarm", "insufficient data"])
NEAR_BODIES = st.fixed_dictionaries({
    "alarm_id": UUIDS, "alarm_name": st.text(min_size=1, max_size=12),
    "severity": st.sampled_from(["low", "moderate", "critical"]), "previous": REAL_STATES,
    "current": REAL_STATES, "reason": st.text(max_size=20), "reason_data": REASON_DATA})

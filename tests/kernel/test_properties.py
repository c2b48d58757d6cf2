"""Properties of the kernel over random sequences of governance actions and calls, on
SQLite and PostgreSQL:

- no call after its agreement stops being in force (suspended, terminated, past its term)
  or after its account is revoked returns data, on any probed path;
- every allowed API call leaves exactly one allowance record (and a refused one at least
  one refusal record), naming the caller.

The oracle is a model of its own: the states the actions put each agreement in and the
term's last day read once, not the policy's decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpul.agreements import service as agreements
from simpul.agreements.lifecycle import State, local_date
from simpul.errors import SimpulError
from tests.kernel.probes import PORTAL_SERVICE_PROBES, SERVICE_PROBES, Probe, World, new_records

pytestmark = pytest.mark.xdist_group("inventory")
AGREEMENTS = sorted({p.agreement for p in [*SERVICE_PROBES, *PORTAL_SERVICE_PROBES]
                     if p.agreement is not None})  # fmt: skip
PROBES = [*SERVICE_PROBES, *PORTAL_SERVICE_PROBES]


@dataclass
class Model:
    state: dict[str, State] = field(default_factory=dict)  # as the actions left it
    ends: dict[str, date] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def in_force(self, world: World, agreement: str) -> bool:
        today = local_date(world.clock.now())
        return self.state[agreement] is State.BERLAKU and today <= self.ends[agreement]


def _model(world: World) -> Model:
    """What the world holds now; kept across examples (the world outlives one example)."""
    model: Model = world.state.setdefault("model", Model())
    if not model.state:
        with world.rt.transaction() as s:
            for a in AGREEMENTS:
                summary = agreements.summary(s, a, world.clock.now())
                model.state[a] = summary.effective_state
                model.ends[a] = summary.ends_on
    return model


step = st.one_of(
    st.tuples(st.just("call"), st.sampled_from(PROBES)),
    st.tuples(st.just("call"), st.sampled_from(PROBES)),
    st.tuples(st.just("call"), st.sampled_from(PROBES)),
    st.tuples(st.just("suspend"), st.sampled_from(AGREEMENTS)),
    st.tuples(st.just("resume"), st.sampled_from(AGREEMENTS)),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=500)),
    st.tuples(st.just("terminate"), st.sampled_from(AGREEMENTS)),
    st.tuples(st.just("revoke"), st.sampled_from(sorted({p.allowed for p in PROBES}))),
)


# verb → (states it applies to, state it leaves)
TRANSITIONS = {
    "suspend": ({State.BERLAKU}, State.DITANGGUHKAN),
    "resume": ({State.DITANGGUHKAN}, State.BERLAKU),
    "terminate": ({State.BERLAKU, State.DITANGGUHKAN}, State.DIAKHIRI),
}
SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=30, deadline=None, suppress_health_check=SLOW_OK)
@given(steps=st.lists(step, min_size=4, max_size=14))
def test_no_data_once_out_of_force_and_one_record_per_call(
    world: World, steps: list[tuple[str, object]]
) -> None:
    model = _model(world)
    for verb, arg in steps:
        if verb == "call":
            assert isinstance(arg, Probe)
            _call(world, model, arg)
        elif verb == "advance":
            assert isinstance(arg, int)
            world.clock.advance(timedelta(days=arg))
        elif verb == "revoke" and str(arg) not in model.revoked:
            world.revoke(str(arg))
            # The demo binds `<institution>.operator` to `<institution>.pengguna`: an
            # operator acts under its data user, and is closed with it.
            model.revoked |= {str(arg), str(arg).replace(".pengguna", ".operator")}
        elif verb in TRANSITIONS:
            before, after = TRANSITIONS[verb]
            agreement = str(arg)
            if model.state[agreement] not in before:
                continue
            refused = _transition(world, verb, agreement)
            if refused is None:
                model.state[agreement] = after
            else:  # past its term an agreement takes no transition
                assert refused == "perjanjian_berakhir" and not model.in_force(world, agreement)


def _transition(world: World, verb: str, agreement: str) -> str | None:
    try:
        getattr(world, verb)(agreement)
    except SimpulError as exc:
        return exc.code
    return None


def _call(world: World, model: Model, probe: Probe) -> None:
    assert probe.agreement is not None  # every service probe is under an agreement
    mark = world.head()
    resp = probe.send(world, probe.allowed)
    records = new_records(world, mark)
    open_ = model.in_force(world, probe.agreement) and probe.allowed not in model.revoked
    where = f"{probe.entry} at {world.clock.now():%Y-%m-%d}, {model.state[probe.agreement]}"
    if not open_:
        assert not probe.discloses(resp), f"data answered out of force: {where}"
        if probe.allowed not in model.revoked:  # a revoked credential is not a governed call
            assert any(r.decision == "tolak" for r in records), f"refusal unrecorded: {where}"
        return
    assert probe.discloses(resp), f"refused in force ({resp.status_code}): {where}"
    allowed = [r for r in records if r.decision == "izin"]
    if probe in SERVICE_PROBES:  # one API call, one record
        assert len(records) == 1 and len(allowed) == 1, f"{len(records)} records: {where}"
    else:  # a portal page may make more than one decided call (the look-up and its photo)
        assert allowed, f"no allowance record: {where}"
    assert all(r.actor == probe.allowed for r in records)

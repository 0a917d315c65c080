"""The profile switch (``testing.profiles``): the constructor, the attribute, ``/_fake/settings``, ``reset()``, the
presets, the pytest plugin's environment variable and marker, the command line; and the evidence table the docs
render."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from django_orkestapay.testing import DEFAULT_PROFILE, PROFILES, FakeOrkestaPay
from django_orkestapay.testing.__main__ import build_fake, build_parser
from django_orkestapay.testing.evidence import EVIDENCE
from django_orkestapay.testing.profiles import PROFILE_PRESETS
from django_orkestapay.testing.pytest_plugin import PROFILE_VARIABLE, marked_profile, session_profile

from .helpers import ApiClient, seed_body, session

MakeFake = Callable[..., FakeOrkestaPay]


def presets_in_force(fake: FakeOrkestaPay, profile: str) -> dict[str, Any]:
    return {name: getattr(fake, name) for name in PROFILE_PRESETS[profile]}


def test_the_default_profile_is_one_of_the_two() -> None:
    assert PROFILES == ("rich", "evidence")
    assert DEFAULT_PROFILE in PROFILES
    assert FakeOrkestaPay().profile == DEFAULT_PROFILE
    assert set(PROFILE_PRESETS) == set(PROFILES)
    assert set(PROFILE_PRESETS["rich"]) == set(PROFILE_PRESETS["evidence"])


@pytest.mark.parametrize("profile", PROFILES)
def test_the_constructor_takes_a_profile_and_its_preset(profile: str) -> None:
    fake = FakeOrkestaPay(profile=profile)

    assert fake.profile == profile
    assert presets_in_force(fake, profile) == PROFILE_PRESETS[profile]


def test_a_constructor_argument_wins_over_the_profiles_preset() -> None:
    fake = FakeOrkestaPay(profile="evidence", emit_cancel_events=True, return_params_canceled=["order_id"])

    assert fake.emit_cancel_events is True
    assert fake.return_params_canceled == ("order_id",)
    assert fake.cancel_marks_order_canceled is False  # the rest of the preset holds


def test_setting_the_profile_applies_its_preset_and_reset_restores_the_constructors(make_fake: MakeFake) -> None:
    fake = make_fake(profile="evidence", emit_cancel_events=True, order_read_fields="status_only")

    fake.profile = "rich"
    rich = presets_in_force(fake, "rich")
    fake.profile = "evidence"
    evidence = presets_in_force(fake, "evidence")
    fake.profile = "rich"
    fake.reset()

    assert rich == PROFILE_PRESETS["rich"]
    assert evidence == PROFILE_PRESETS["evidence"]
    assert fake.profile == "evidence"
    assert fake.emit_cancel_events is True  # the constructor's value, not the preset's
    assert fake.order_read_fields == "status_only"


def test_the_profile_changes_the_answers_at_once(make_fake: MakeFake) -> None:
    fake = make_fake(profile="rich")
    api = ApiClient(fake)
    order_id = api.create_checkout()["order"]["order_id"]

    rich = api.get(f"/v1/orders/{order_id}").json()
    fake.profile = "evidence"
    evidence = api.get(f"/v1/orders/{order_id}").json()

    assert "payments" in rich
    assert "payments" not in evidence
    assert set(evidence) < set(rich)


def test_the_settings_route_sets_the_profile_and_reset_restores_it(make_fake: MakeFake) -> None:
    fake = make_fake(profile="rich")
    http = session()
    url = f"{fake.base_url}/_fake/settings"

    # the profile's preset goes first, so a switch in the same body wins whatever the order of the keys
    changed = http.post(url, json={"emit_cancel_events": True, "profile": "evidence"}, timeout=5)
    listed = http.get(url, timeout=5).json()
    status_only = http.post(url, json={"order_read_fields": "status_only"}, timeout=5)
    unknown = http.post(url, json={"profile": "lavish"}, timeout=5)
    bad_fields = http.post(url, json={"order_read_fields": "all"}, timeout=5)

    assert changed.status_code == 200
    assert (listed["profile"], listed["emit_cancel_events"], listed["cancel_marks_order_canceled"]) == (
        "evidence",
        True,
        False,
    )
    assert (listed["checkout_url_form"], listed["return_params_canceled"]) == ("guide", [])
    assert status_only.json()["order_read_fields"] == "status_only"
    assert (unknown.status_code, bad_fields.status_code) == (400, 400)
    assert "lavish" in unknown.json()["message"]
    assert fake.profile == "evidence"
    assert http.post(f"{fake.base_url}/_fake/reset", timeout=5).status_code == 200
    assert (fake.profile, fake.order_read_fields, fake.emit_cancel_events) == ("rich", "guide", True)


@pytest.mark.parametrize(
    ("name", "value"),
    [("profile", "lavish"), ("profile", None), ("order_read_fields", "everything"), ("checkout_url_form", "hash")],
)
def test_invalid_profile_values_are_refused(name: str, value: Any) -> None:
    fake = FakeOrkestaPay()

    with pytest.raises(ValueError, match=name):
        setattr(fake, name, value)
    arguments: dict[str, Any] = {name: value or "nothing"}
    with pytest.raises(ValueError, match=name):
        FakeOrkestaPay(**arguments)


def test_allowed_currencies_are_upper_cased_however_they_are_set(make_fake: MakeFake) -> None:
    fake = make_fake(allowed_currencies=["mxn"])
    api = ApiClient(fake)

    routed = session().post(f"{fake.base_url}/_fake/settings", json={"allowed_currencies": ["usd", "mxn"]}, timeout=5)

    assert routed.json()["allowed_currencies"] == ["USD", "MXN"]
    assert api.post("/v1/checkouts", seed_body(currency="USD")).status_code == 200
    setattr(fake, "allowed_currencies", ["pen"])  # noqa: B010 - a list, which the attribute's type does not admit
    assert fake.allowed_currencies == ("PEN",)
    with pytest.raises(ValueError, match="allowed_currencies"):
        setattr(fake, "allowed_currencies", "MXN")  # noqa: B010
    fake.reset()
    assert fake.allowed_currencies == ("MXN",)


# the pytest plugin -------------------------------------------------------------------------------------------


def test_the_session_profile_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROFILE_VARIABLE, "evidence")
    assert session_profile() == "evidence"
    monkeypatch.setenv(PROFILE_VARIABLE, "rich")
    assert session_profile() == "rich"
    monkeypatch.delenv(PROFILE_VARIABLE)
    assert session_profile() == DEFAULT_PROFILE
    monkeypatch.setenv(PROFILE_VARIABLE, "lavish")
    with pytest.raises(ValueError, match="lavish"):
        session_profile()


@pytest.mark.orkestapay_profile("evidence")
def test_a_marked_test_gets_the_fake_in_that_profile(fake: FakeOrkestaPay, make_fake: MakeFake) -> None:
    assert fake.profile == "evidence"
    assert presets_in_force(fake, "evidence") == PROFILE_PRESETS["evidence"]
    assert make_fake().profile == "evidence"

    fake.reset()  # what the fixture does after the test: the session's profile again

    assert fake.profile == session_profile()


@pytest.mark.orkestapay_profile("rich")
def test_a_marker_for_the_other_profile(fake: FakeOrkestaPay) -> None:
    assert fake.profile == "rich"


def test_a_marker_names_exactly_one_profile() -> None:
    def request(*args: Any) -> Any:
        marker = SimpleNamespace(args=args)
        return SimpleNamespace(node=SimpleNamespace(get_closest_marker=lambda name: marker))

    assert marked_profile(request("rich")) == "rich"
    with pytest.raises(pytest.UsageError):
        marked_profile(request())
    with pytest.raises(ValueError, match="lavish"):
        marked_profile(request("lavish"))
    unmarked: Any = SimpleNamespace(node=SimpleNamespace(get_closest_marker=lambda name: None))
    assert marked_profile(unmarked) is None


# the command line and the table ------------------------------------------------------------------------------


def test_the_command_line_chooses_the_profile() -> None:
    parser = build_parser()

    default = build_fake(parser.parse_args(["--port", "0"]))
    evidence = build_fake(parser.parse_args(["--profile", "evidence", "--order-read-fields", "status_only"]))

    assert default.profile == DEFAULT_PROFILE
    assert (evidence.profile, evidence.order_read_fields) == ("evidence", "status_only")
    assert evidence.checkout_url_form == "guide"
    with pytest.raises(SystemExit):
        parser.parse_args(["--profile", "lavish"])


def test_the_evidence_table_names_a_source_for_every_point() -> None:
    points = [row.point for row in EVIDENCE]

    assert len(points) == len(set(points))
    assert all(row.point and row.evidence and row.rich and row.source for row in EVIDENCE)
    for endpoint in ("GET /v1/orders/{id}", "GET /v1/orders/{id}/payments", "GET /v1/payments/{id}"):
        assert endpoint in points

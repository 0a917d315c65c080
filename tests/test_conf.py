import pytest

from django_orkestapay import conf


def test_defaults_apply_when_setting_is_absent(settings):
    del settings.ORKESTAPAY
    assert conf.get("ENVIRONMENT") == "sandbox"
    assert conf.base_url() == "https://api.sand.orkestapay.com"


def test_production_base_url(settings):
    settings.ORKESTAPAY = {"ENVIRONMENT": "production"}
    assert conf.base_url() == "https://api.orkestapay.com"


def test_base_url_override_wins_and_loses_trailing_slash(settings):
    settings.ORKESTAPAY = {"BASE_URL": "http://127.0.0.1:8765/"}
    assert conf.base_url() == "http://127.0.0.1:8765"
    assert "127.0.0.1" in conf.checkout_hosts()


def test_missing_credential_names_the_key(settings):
    settings.ORKESTAPAY = {"CLIENT_ID": "x"}
    with pytest.raises(conf.OrkestaPayConfigurationError, match="CLIENT_SECRET"):
        conf.require("CLIENT_SECRET")


def test_invalid_environment_is_a_clear_error(settings):
    settings.ORKESTAPAY = {"ENVIRONMENT": "live"}
    with pytest.raises(conf.OrkestaPayConfigurationError, match="ENVIRONMENT"):
        conf.base_url()


def test_setting_must_be_a_dict(settings):
    settings.ORKESTAPAY = ["nope"]
    with pytest.raises(conf.OrkestaPayConfigurationError):
        conf.get("CLIENT_ID")


def test_settings_are_read_lazily(settings):
    settings.ORKESTAPAY = {"LOCALE": "ES_LATAM"}
    assert conf.get("LOCALE") == "ES_LATAM"
    settings.ORKESTAPAY = {"LOCALE": "EN_US"}
    assert conf.get("LOCALE") == "EN_US"


def test_client_is_rebuilt_when_settings_change(settings, db):
    from django_orkestapay import services

    settings.ORKESTAPAY = {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "BASE_URL": "http://127.0.0.1:1"}
    first = services.get_client()
    assert services.get_client() is first
    settings.ORKESTAPAY = {"CLIENT_ID": "a", "CLIENT_SECRET": "c", "BASE_URL": "http://127.0.0.1:1"}
    assert services.get_client() is not first

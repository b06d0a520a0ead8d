"""Settings: environment names, safety checks, and the README table."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.settings import Settings, settings_table

pytestmark = pytest.mark.unit

README = Path(__file__).parents[2] / "README.md"


def test_readme_table_matches_the_code() -> None:
    text = README.read_text()
    start = text.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end].strip() == settings_table(), "run: cti settings --markdown"


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "CTI_AMI_HOST": "pbx.example.org",
        "CTI_AMI_PORT": "5039",
        "CTI_AMI_USERNAME": "callfold",
        "CTI_AMI_SECRET": "hunter2hunter2",
        "CTI_AMI_MAX_MESSAGE_BYTES": "65536",
        "CTI_AGI_HOST": "0.0.0.0",
        "CTI_AGI_PORT": "4574",
        "CTI_HTTP_HOST": "0.0.0.0",
        "CTI_HTTP_PORT": "9000",
        "CTI_DATABASE_URL": "postgresql+asyncpg://cti@db/cti",
        "CTI_REDIS_URL": "redis://cache:6379/0",
        "CTI_SECRET_KEY": "k" * 32,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert (settings.ami.host, settings.ami.port, settings.ami.username) == (
        "pbx.example.org",
        5039,
        "callfold",
    )
    assert settings.ami.secret.get_secret_value() == "hunter2hunter2"
    assert settings.ami.max_message_bytes == 65536
    assert (settings.agi.host, settings.agi.port) == ("0.0.0.0", 4574)
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 9000)
    assert settings.database.url == "postgresql+asyncpg://cti@db/cti"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.refuse_insecure() == []
    assert "hunter2" not in repr(settings)


def test_defaults_are_refused_outside_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("CTI_SECRET_KEY", "CTI_AMI_SECRET", "CTI_DEMO"):
        monkeypatch.delenv(key, raising=False)
    problems = Settings().refuse_insecure()
    assert any("CTI_SECRET_KEY" in p for p in problems)
    assert any("CTI_AMI_SECRET" in p for p in problems)
    demo = Settings(demo=True)
    assert demo.secret_key.get_secret_value() and demo.ami.secret.get_secret_value()
    assert demo.refuse_insecure() != []


def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_AMI_PORT", "99999")
    with pytest.raises(ValueError, match="port"):
        Settings()

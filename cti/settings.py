"""Every setting of the server, read from the environment (prefix ``CTI_``) once, then passed in.

A nested model per subsystem; ``CTI_AMI_HOST`` sets ``ami.host``. The table in
README.md lists them all; ``tests/unit/test_settings.py`` keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_AMI_SECRET = "demo-secret"
DEMO_SECRET_KEY = "demo-insecure-secret-key-change-me"


class AmiSettings(BaseModel):
    """Asterisk manager interface (AMI) connection."""

    enabled: bool = Field(
        True,
        description="false: this process never reads AMI's events; another one does (set "
        "CTI_REDIS_URL on both: pops, live agent state and AMI actions then work here too).",
    )
    host: str = Field("127.0.0.1", description="Asterisk host to connect to for AMI.")
    port: int = Field(5038, ge=1, le=65535, description="AMI TCP port.")
    username: str = Field("cti", description="AMI user from manager.conf.")
    secret: SecretStr = Field(SecretStr(""), description="AMI user's secret. Required for serve.")
    ping_interval: float = Field(10.0, gt=0, description="Seconds between keep-alive pings.")
    action_timeout: float = Field(10.0, gt=0, description="Seconds to wait for an action reply.")
    reconnect_min: float = Field(0.5, gt=0, description="First reconnect delay, seconds.")
    reconnect_max: float = Field(30.0, gt=0, description="Longest reconnect delay, seconds.")
    max_message_bytes: int = Field(
        512 * 1024, ge=4096, description="Longer AMI messages are dropped and logged."
    )
    lease: bool = Field(
        True,
        description="With CTI_REDIS_URL: take the AMI lease, so that one of several "
        "processes reads AMI; false: this is the only process for this Asterisk, and it "
        "reads AMI whatever Redis does.",
    )
    lease_seconds: float = Field(
        3.0,
        ge=0.3,
        le=60,
        description="With CTI_REDIS_URL: the AMI lease's term; a dead reader's successor "
        "takes over within about this long.",
    )
    lease_retry_seconds: float = Field(
        0.5, gt=0, le=10, description="Seconds between attempts to take the AMI lease."
    )


class AgiSettings(BaseModel):
    """FastAGI server the dialplan calls (``AGI(agi://host:port/ivr)``)."""

    host: str = Field("127.0.0.1", description="FastAGI listen address.")
    port: int = Field(4573, ge=0, le=65535, description="FastAGI listen port (0: any free).")


class IvrSettings(BaseModel):
    """The caller-aware IVR: its flow file and its sound files."""

    flow: Path | None = Field(
        None,
        description="A site's IVR flow file (JSON); unset: the shipped ivr/flows/default.json.",
    )
    sounds: Path = Field(
        Path("var/sounds"),
        description="Sounds shared with Asterisk: <language>/cti/*.wav (cti prompts generate).",
    )
    tts: bool = Field(
        True, description="Greet known callers by name with espeak-ng when installed."
    )


class HttpSettings(BaseModel):
    """HTTP API, WebSockets and pages."""

    host: str = Field("127.0.0.1", description="HTTP listen address.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP listen port.")


class DatabaseSettings(BaseModel):
    """Relational storage."""

    url: str = Field(
        "sqlite+aiosqlite:///./var/cti.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///… or postgresql+asyncpg://…",
    )
    auto_migrate: bool = Field(True, description="Apply pending migrations at start-up.")


class RedisSettings(BaseModel):
    """Optional Redis: event bus and shared live state across processes."""

    url: str | None = Field(None, description="redis://host:port/db; unset: in-process bus.")


class LogSettings(BaseModel):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["json", "text"] = Field("json", description="json: one object per line.")


class ContactSettings(BaseModel):
    """How this site's phone numbers look."""

    region: str = Field(
        "RU", min_length=2, max_length=2, description="Country of numbers without a country code."
    )
    outside_prefix: str = Field(
        "", pattern=r"^\d?$", description="Digit the PBX puts before outside numbers (e.g. 9)."
    )


class OutboundSettings(BaseModel):
    """Click-to-call and call-backs (``cti.callbacks``; dialplans/outbound.conf)."""

    context: str = Field(
        "cti-outbound",
        pattern=r"^[A-Za-z0-9_-]{1,79}$",
        description="Dialplan context an agent's answered phone dials the customer from.",
    )
    caller_id: str = Field(
        "", max_length=32, description="Number customers see on outbound calls (else the trunk's)."
    )
    caller_name: str = Field("", max_length=64, description="Name customers see on outbound calls.")
    blocked_prefixes: list[str] = Field(
        [],
        description='E.164 prefixes never dialled, e.g. ["+7809", "+882"] (premium rate, '
        "satellite).",
    )
    tick_seconds: float = Field(
        0.5, gt=0, le=10, description="How often the call-back scheduler looks for a free agent."
    )


class SmsSettings(BaseModel):
    """SMS: the provider replies go through, and the webhooks that bring messages in."""

    provider: Literal["log", "twilio"] = Field(
        "log", description="log: nothing is sent, each SMS is logged; twilio: Twilio's API."
    )
    from_number: str = Field("", description="The number SMS are sent from (E.164).")
    twilio_account_sid: str = Field("", description="Twilio account SID.")
    twilio_auth_token: SecretStr = Field(
        SecretStr(""),
        description="Twilio auth token: sends, and checks X-Twilio-Signature on the webhook "
        "(unset: the Twilio webhook refuses every request).",
    )
    twilio_api_url: str = Field(
        "https://api.twilio.com", description="Twilio's API, or a compatible one."
    )
    webhook_url: str = Field(
        "",
        description="The Twilio webhook's public address as configured at Twilio, for the "
        "signature (unset: the address the request arrived at).",
    )
    webhook_secret: SecretStr = Field(
        SecretStr(""),
        description="HMAC-SHA256 key of the generic JSON webhook (unset: it refuses every "
        "request).",
    )


class MailSettings(BaseModel):
    """Email: the SMTP receiver customers' mail arrives at, and the server replies go out by."""

    receive: bool = Field(
        False, description="Listen for inbound email over SMTP (point your MX or relay here)."
    )
    listen_host: str = Field("127.0.0.1", description="SMTP receiver's listen address.")
    listen_port: int = Field(2525, ge=0, le=65535, description="SMTP receiver's port (0: any).")
    max_bytes: int = Field(30 * 2**20, ge=1024, description="Largest message accepted, bytes.")
    max_attachment_bytes: int = Field(
        10 * 2**20, ge=0, description="Larger attachments are listed on the message, not kept."
    )
    smtp_host: str = Field("", description="SMTP server for replies (unset: replies are logged).")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server's port.")
    smtp_username: str = Field("", description="SMTP login (unset: none).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    from_address: str = Field(
        "support@example.org", description="The address replies come from (and go back to)."
    )
    imap_host: str = Field("", description="IMAP server of a mailbox to poll (unset: none).")
    imap_port: int = Field(993, ge=1, le=65535, description="IMAP server's port.")
    imap_ssl: bool = Field(True, description="IMAP over TLS (IMAPS).")
    imap_username: str = Field("", description="IMAP login.")
    imap_password: SecretStr = Field(SecretStr(""), description="IMAP password.")
    imap_folder: str = Field("INBOX", description="Folder to take unseen messages from.")
    imap_poll_seconds: float = Field(30.0, gt=0, description="Seconds between IMAP polls.")


class CsatSettings(BaseModel):
    """Customer satisfaction surveys."""

    enabled: bool = Field(
        False,
        description="After an agent wraps a call up, ask the customer for a 1-5 rating "
        "(SMS, else email).",
    )


class CrmSettings(BaseModel):
    """An optional external CRM that adds facts to every dossier (see docs/crm.md)."""

    url: str | None = Field(None, description="Base URL of the CRM's contact API; unset: none.")
    token: SecretStr = Field(SecretStr(""), description="Bearer token sent to the CRM.")
    budget_ms: int = Field(
        300, ge=10, le=10000, description="Longest wait for the CRM per dossier, ms."
    )
    cache_seconds: float = Field(60.0, ge=0, description="How long a CRM answer is reused, s.")


class SpeechSettings(BaseModel):
    """Speech input of the IVR: Vosk fed by Asterisk's AudioSocket()."""

    model: Path | None = Field(
        None, description="Vosk model directory (also CTI_VOSK_MODEL); unset: DTMF only."
    )
    audiosocket_host: str = Field("127.0.0.1", description="AudioSocket listen address.")
    audiosocket_port: int = Field(
        4574, ge=0, le=65535, description="AudioSocket listen port (0: any free)."
    )
    silence_ms: int = Field(
        600, ge=100, le=5000, description="Trailing silence that ends an utterance, ms."
    )
    timeout: float = Field(5.0, gt=0, description="Seconds a caller has to start speaking.")


class WallboardSettings(BaseModel):
    """The supervisors' live wallboard and its alerts."""

    service_level_target: float = Field(
        80.0, ge=0, le=100, description="Alert when a queue's service level (%) falls below."
    )
    service_level_seconds: int = Field(
        20,
        ge=0,
        le=3600,
        description="Answer-within threshold until Asterisk reports the queue's own "
        "(queues.conf servicelevel).",
    )
    paused_too_long: float = Field(
        900.0, gt=0, description="Alert when an agent stays paused longer, seconds."
    )
    update_interval: float = Field(
        0.05, ge=0, le=5, description="Changes are sent at most this often, seconds."
    )


class DialplanSettings(BaseModel):
    """The admins' dialplan editor."""

    directory: Path = Field(
        Path("dialplans"),
        description="Where edited contexts are rendered (Asterisk reads it as "
        "/etc/asterisk/dialplans/).",
    )
    extensions_conf: Path | None = Field(
        Path("asterisk-conf/extensions.conf"),
        description="The extensions.conf that includes the directory; edited contexts may "
        "name its contexts (none there: only the directory's).",
    )
    allowed_applications: list[str] = Field(
        [],
        description='Refused applications or functions to allow all the same, e.g. ["System"] '
        "(System, TrySystem and SHELL() are refused).",
    )
    reload: bool = Field(
        True,
        description="Push each save with AMI (dialplan reload) and check it took; false: "
        "only write the files.",
    )


class ReportSettings(BaseModel):
    """Reports over stored calls and messages."""

    max_days: int = Field(
        92, ge=1, le=3660, description="Longest range one report may cover, days."
    )
    timeout: float = Field(
        10.0, gt=0, le=600, description="Seconds a report may take before it is stopped (503)."
    )
    refresh_interval: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Seconds between background roll-ups of new calls, messages and surveys "
        "for reports; 0: only when a report is asked for.",
    )


class Settings(BaseSettings):
    """The server's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="CTI_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    ami: AmiSettings = Field(default_factory=AmiSettings)
    agi: AgiSettings = Field(default_factory=AgiSettings)
    ivr: IvrSettings = Field(default_factory=IvrSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    contacts: ContactSettings = Field(default_factory=ContactSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    csat: CsatSettings = Field(default_factory=CsatSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    wallboard: WallboardSettings = Field(default_factory=WallboardSettings)
    dialplan: DialplanSettings = Field(default_factory=DialplanSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    vosk_model: Path | None = Field(
        None,
        validation_alias=AliasChoices("CTI_VOSK_MODEL", "vosk_model"),
        description="Same as CTI_SPEECH_MODEL, which wins when both are set.",
    )
    secret_key: SecretStr = Field(
        SecretStr(""), description="Signs login tokens. Required outside the demo."
    )
    metrics_token: SecretStr = Field(
        SecretStr(""), description="Bearer token Prometheus may use for /metrics (else a login)."
    )
    demo: bool = Field(False, description="Demo mode: demo secrets allowed, simulated PBX.")
    data_dir: Path = Field(Path("var"), description="Folder for the SQLite file and caches.")
    gc_complete_seconds: float = Field(
        3600.0,
        gt=0,
        description="Most seconds between complete garbage collections (cti.heap); the "
        "full collections in between walk only what is new.",
    )

    @model_validator(mode="after")
    def _demo_defaults(self) -> Settings:
        if self.demo:
            if not self.secret_key.get_secret_value():
                self.secret_key = SecretStr(DEMO_SECRET_KEY)
            if not self.ami.secret.get_secret_value():
                self.ami.secret = SecretStr(DEMO_AMI_SECRET)
        return self

    @model_validator(mode="after")
    def _vosk_model_alias(self) -> Settings:
        if self.speech.model is None and self.vosk_model is not None:
            self.speech.model = self.vosk_model
        return self

    def refuse_insecure(self) -> list[str]:
        """Return what keeps this configuration from running outside the demo."""
        problems = []
        key = self.secret_key.get_secret_value()
        if not key or key == DEMO_SECRET_KEY or len(key) < 16:
            problems.append("CTI_SECRET_KEY must be set to a random string of 16+ characters")
        secret = self.ami.secret.get_secret_value()
        if self.ami.enabled and (not secret or secret == DEMO_AMI_SECRET):
            problems.append("CTI_AMI_SECRET must be set to the AMI user's secret")
        return problems


def settings_table() -> str:
    """Every setting as a Markdown table: variable, default, meaning."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    defaults = Settings.model_construct()
    for name, info in Settings.model_fields.items():
        nested = info.default_factory
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            for sub, sub_info in nested.model_fields.items():
                default = _show(sub_info.default)
                env = f"CTI_{name}_{sub}".upper()
                rows.append(f"| `{env}` | {default} | {sub_info.description} |")
        else:
            rows.append(
                f"| `CTI_{name.upper()}` | {_show(getattr(defaults, name))} | {info.description} |"
            )
    return "\n".join(rows)


def _show(value: object) -> str:
    if isinstance(value, SecretStr):
        return "(none)" if not value.get_secret_value() else "(set)"
    if value is None:
        return "(none)"
    return f"`{value}`"

"""One settings object for the whole platform, read from environment variables.

Every variable is prefixed ``EWALL_`` except the two that point at external services
(``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``), which keep the names operators already use.
When those two are unset, ``./ewall`` starts the embedded PostGIS and broker under ``.run/``.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


# Secrets generated for the embedded setup live here, never in the repo.
GENERATED_ENV_FILE = REPO_ROOT / ".run" / "ewall.env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EWALL_", env_file=GENERATED_ENV_FILE, extra="ignore")

    run_dir: Path = REPO_ROOT / ".run"

    # External services; empty means "use the embedded ones".
    database_url: str = Field("", validation_alias=AliasChoices("DATABASE_URL", "EWALL_DATABASE_URL"))
    kafka_bootstrap_servers: str = Field(
        "", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "EWALL_KAFKA_BOOTSTRAP_SERVERS")
    )

    # Embedded services (only used when the URLs above are empty).
    pg_port: int = 54329
    pg_database: str = "ewall"
    pg_user: str = "ewall"
    pg_password: str = ""
    kafka_port: int = 19092
    # How long opening a database connection may take before it counts as "unreachable".
    db_connect_timeout_s: float = 5.0

    # Apps.
    host: str = "127.0.0.1"
    ingest_port: int = 5055
    portal_port: int = 8000
    ingest_workers: int = 2
    portal_workers: int = 1
    # The ingest app's address as phones reach it (a public host name, https behind a proxy): what
    # the set-up QR codes of a registered phone carry. Empty: http://<host>:<ingest_port>.
    ingest_public_url: str = ""
    # The portal's address as supervisees' phones reach it: what a phone page's sign-in link and QR
    # code carry (#16). Empty: http://<host>:<portal_port>.
    portal_public_url: str = ""

    # Kafka.
    topic_prefix: str = ""
    topic_partitions: int = 4
    broker_timeout_s: float = 5.0
    # How long ingest gathers concurrent requests' fixes into shared records. Longer means fewer,
    # larger produce requests (measured: 5 ms 2,900, 20 ms 3,600 single-fix requests/s), at the
    # cost of that much latency for a lone request.
    ingest_linger_ms: float = 20.0
    # How long ingest trusts a cached device/gateway/camera lookup. While the database is unreachable an
    # expired entry is still used (stale beats refusing a known device's fixes).
    ingest_directory_ttl_s: float = 30.0
    # Request bodies beyond these are refused (413) while being read. Ingest's fits a full batch of
    # max_batch_fixes native fixes (about 200 bytes each, 800 allowed); the portal's, a detailed zone.
    ingest_max_body_bytes: int = 8 * 1024 * 1024
    portal_max_body_bytes: int = 2 * 1024 * 1024
    # Requests that fail authentication, per source address and ingest process: this many a minute,
    # then 429 (so a flood of guessed ids or tokens costs neither lookups nor unknown-device rows).
    ingest_auth_failures_per_min: int = 60
    # Unknown devices recorded per source address per hour, and in all per day (across processes).
    unknown_devices_per_addr_hour: int = 100
    unknown_devices_per_day: int = 10_000

    # Security. The embedded setup generates these into .run/secrets.env; production sets them.
    secret_key: str = ""
    # The bootstrap `admin` account's password, used when that account is first created.
    admin_password: str = ""
    access_token_ttl_min: int = 12 * 60
    # A supervisee's phone-page session (#16) lasts this long; revoking its sign-in link ends it sooner.
    phone_session_ttl_days: int = 90
    # While the phone page is open (and the person allowed it), it reports the browser's position this often.
    phone_position_interval_s: int = Field(default=60, ge=10, le=3600)
    # Sign-in throttling (state in PostgreSQL, shared by every portal process). After this many
    # failures within the window, an account (by the username tried) is locked for lockout_s, doubling
    # with each further failure up to lockout_max_s. A source address gets a higher limit: one office
    # behind NAT is one address.
    sign_in_max_failures: int = 5
    sign_in_address_max_failures: int = 20
    sign_in_window_s: int = 15 * 60
    sign_in_lockout_s: int = 60
    sign_in_lockout_max_s: int = 60 * 60
    # The session cookie is Secure when the request came over https (directly, or through a proxy in
    # forwarded_allow_ips that sends X-Forwarded-Proto); this forces it for proxies that do not say so.
    session_cookie_secure: bool = False
    # Proxies whose X-Forwarded-For/-Proto uvicorn believes (comma-separated addresses, or *).
    forwarded_allow_ips: str = "127.0.0.1"
    # Seals each audit entry (an HMAC of its hash) and each checkpoint of the chain's head. Kept out of
    # the database, so whoever rewrites audit_log there cannot forge the seals.
    audit_key: str = ""
    # Append-only file of HMAC'd checkpoints of the chain's head (last id, its hash, the count), written
    # by the watchdog each round and by `./ewall audit verify`; a truncated or emptied audit_log shows
    # against it. Production keeps it on another host or WORM storage (see README, "Audit chain").
    audit_anchor_file: Path = REPO_ROOT / ".run" / "audit-anchor.jsonl"

    # Data.
    fix_partition_days_ahead: int = 7
    # Retention (README, "Retention"): how long each kind of location or personal data is kept. The fix
    # retention also bounds the coordinates in alert evidence and the geofence snapshots.
    fix_retention_days: int = 180
    radio_report_retention_days: int = 180
    sighting_retention_days: int = 180
    last_position_retention_days: int = 180
    alert_retention_days: int = 1825
    unknown_device_retention_days: int = 30
    retention_batch_rows: int = 5000
    max_fix_future_s: int = 300
    max_batch_fixes: int = 10_000
    # Camera matches below this confidence are kept as sightings but do not become fixes.
    sighting_min_confidence: float = 0.8

    # Health. Every process beats this often from its main loop; /ready fails when a role's newest
    # beat is older than the max age, or a consumer group is further behind than the max lag (records;
    # a fixes.v1 record carries up to 5,000 fixes).
    heartbeat_interval_s: float = 5.0
    ready_heartbeat_max_age_s: float = 30.0
    ready_max_lag_records: int = 2000

    # Alert thresholds are in alerts/config.py (defaults) and the alert_policy table (overrides).
    watchdog_interval_s: int = 30
    # Officers are reminded this many days before a person's electronic monitoring period ends.
    monitoring_reminder_days: int = 7

    # Display.
    display_tz: str = "Asia/Shanghai"
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tiles_attribution: str = "© OpenStreetMap contributors"
    # 天地图 (Tianditu) and Amap take subdomains, e.g. "01234567" or "1234"; labels come as a second layer.
    map_tiles_subdomains: str = "abc"
    map_tiles_labels_url: str = ""
    # The datum the tiles are drawn in: "gcj02" for Amap/Tencent tiles, whose streets sit hundreds of
    # metres off WGS-84; pages then shift every position onto them (static/basemap.js).
    map_tiles_datum: Literal["wgs84", "gcj02"] = "wgs84"
    map_max_zoom: int = Field(default=19, ge=1, le=22)
    # The live map greys a position older than this and shows its age.
    map_stale_after_min: int = Field(default=15, ge=1, le=7 * 24 * 60)

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_bootstrap_servers

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the database, embedded or external."""
        if self.database_url:
            return _with_psycopg_driver(self.database_url)
        return f"postgresql+psycopg://{self.pg_user}:{self.pg_password}@127.0.0.1:{self.pg_port}/{self.pg_database}"

    @property
    def ingest_url_for_phones(self) -> str:
        """Where phones send their positions (EWALL_INGEST_PUBLIC_URL, without a trailing slash)."""
        return (self.ingest_public_url or f"http://{self.host}:{self.ingest_port}").rstrip("/")

    @property
    def portal_url_for_phones(self) -> str:
        """Where phones open their page (EWALL_PORTAL_PUBLIC_URL, without a trailing slash)."""
        return (self.portal_public_url or f"http://{self.host}:{self.portal_port}").rstrip("/")

    @property
    def bootstrap_servers(self) -> list[str]:
        servers = self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"
        return [s.strip() for s in servers.split(",") if s.strip()]

    def topic(self, name: str) -> str:
        """The broker-side name of a logical topic such as ``fixes.v1``."""
        return f"{self.topic_prefix}{name}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def _with_psycopg_driver(url: str) -> str:
    # Operators write plain postgres:// URLs; SQLAlchemy needs the driver named.
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url

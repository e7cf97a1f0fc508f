"""The database settings: the primary's URL, and a read replica's of the same kind."""

from app.infra.config_error import ConfigError


def check(config: dict) -> None:
    """Refuse a database URL that is no URL, or a replica of another kind of database."""
    if "://" not in config["DATABASE_URL"]:
        raise ConfigError("DATABASE_URL must be a URL such as postgresql://... or sqlite:///...")
    read = config["DATABASE_READ_URL"] = config["DATABASE_READ_URL"].strip()
    if read and "://" not in read:
        raise ConfigError("DATABASE_READ_URL must be empty or a URL such as postgresql://...")
    primary, replica = kind(config["DATABASE_URL"]), kind(read)
    if read and primary != replica:
        # Kinds only: the URLs may hold passwords.
        raise ConfigError(
            "DATABASE_READ_URL must be a replica of DATABASE_URL's database: "
            f"a {replica} database cannot be a replica of a {primary} one"
        )


def kind(url: str) -> str:
    """Return the kind of database a URL names: postgresql for postgres://, postgresql+psycopg://."""
    scheme = url.split("://")[0].split("+")[0].lower()
    return "postgresql" if scheme == "postgres" else scheme

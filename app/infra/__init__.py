"""Infrastructure: configuration, the database and models, Redis sessions, migrations, gateway."""

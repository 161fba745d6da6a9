"""peewee-migrate migrations. They use `migrator.orm[...]`, never the live models in db.models."""

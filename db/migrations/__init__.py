"""peewee-migrate migrations. They use `migrator.orm[...]`, never the live models of `db`."""

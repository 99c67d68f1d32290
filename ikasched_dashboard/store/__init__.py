"""The dashboard's durable store: schema, engines and migrations, and the repository layer."""

"""The database: typed models, engine/session factory, repositories and batched writers."""

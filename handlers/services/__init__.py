"""Use cases over a SQLAlchemy Session. Services flush when they need ids and never commit."""

"""The domain: use cases over a SQLAlchemy Session, used by the web layer, the conversation, the
scheduler and the CLI alike. Services flush when they need ids and never commit; the caller's
request or job owns the transaction. Pure rules over plain values live in `services.policy`."""

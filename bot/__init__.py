"""The web layer: Flask app factory, the WeChat webhook, health checks, WeChat client glue and the CLI."""

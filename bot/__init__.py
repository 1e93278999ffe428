"""The web layer: the Flask app factory, the WeChat webhook, health checks, the admin API and the office dashboard."""

"""The conversation: a router that dispatches WeChat messages to short handlers that call services."""

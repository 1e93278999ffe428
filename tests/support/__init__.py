"""Test helpers: a fixed clock, a WeChat-like sender and data factories."""

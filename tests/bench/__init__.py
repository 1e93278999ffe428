"""Smoke versions of the benchmarks in bench/: tiny data, a few seconds, no load generator."""

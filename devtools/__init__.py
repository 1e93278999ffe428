"""Development tools, imported by no production module: the WeChat simulator and API stand-in,
the `make run` stack, and the demo data generators. The dev server mounts the simulator itself."""

"""What every process shares: the composition root, the clock, the WeChat client and the outbox dispatcher.

No Flask here: the web app, the inbox worker, the scheduler and the CLI all build their
collaborators with `runtime.container.build_services`.
"""

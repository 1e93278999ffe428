"""Domain errors: raised by services, shown to the user as their message."""


class DomainError(Exception):
    """A refused action; `message` is short, kind Simplified Chinese, safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

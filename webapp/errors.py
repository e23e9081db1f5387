"""Domain errors raised by services and turned into field messages by routes."""


class ServiceError(Exception):
    """A request the service refuses, with a message for the user and the field it concerns."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


class NotFound(ServiceError):
    """The object does not exist or is not visible to this user (both answer 404)."""

    def __init__(self, message: str = "Not found."):
        super().__init__(message, status=404)

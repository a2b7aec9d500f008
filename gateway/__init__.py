"""The ASGI front door: the waiting-room middleware and the standalone gateway app."""

from gateway.middleware import WaitingRoomMiddleware
from gateway.runtime import waiting_room_lifespan

__all__ = ["WaitingRoomMiddleware", "waiting_room_lifespan"]

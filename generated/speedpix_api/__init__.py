"""A client library for accessing SpeedPix (智作工坊 / AIGC Service Lab) ComfyUI workflow API"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)

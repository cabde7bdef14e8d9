"""Web chat: an embeddable widget talking JSON frames over a WebSocket (see docs/WEBCHAT.md)."""

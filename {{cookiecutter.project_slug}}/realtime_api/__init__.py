"""DRF views over WebSockets, with live subscriptions (see PROTOCOL.md)."""

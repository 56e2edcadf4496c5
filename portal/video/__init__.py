"""Video rooms: the provider port, the local and Cloudflare RealtimeKit providers, and provider webhooks."""

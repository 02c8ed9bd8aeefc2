"""The one credential the sandbox accepts. It guards nothing real; it exists so that the
connectors' authentication code runs exactly as it does against a real tracker. A module of its
own so that a client (the bench's landing process) can name it without importing the server."""

SANDBOX_TOKEN = "pulse-sandbox-token"
SANDBOX_TOKEN_ENV = "PULSE_SANDBOX_TOKEN"
SANDBOX_USER = "pulse-bot@acme.example"  # Jira Cloud basic auth pairs an e-mail with the token
SANDBOX_USER_ENV = "PULSE_SANDBOX_USER"

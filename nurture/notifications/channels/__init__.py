"""How a notice leaves the app: one module per channel (email, webhook), each a `send` the jobs call."""

env    = "prod"
region = "eu-central-1"

# Cross-region forwarding is off: no event schema is marked free of personal data yet.
forwarding = null

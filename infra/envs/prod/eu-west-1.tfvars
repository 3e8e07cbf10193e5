env    = "prod"
region = "eu-west-1"

# Cross-region forwarding is off: no service in another region consumes our events yet. Only events
# whose schema says contains_personal_data = false may be listed (tests/infra checks it; see the
# "personal data" column of shared/events/schemas/README.md), and EU roots only forward within the EU.
forwarding = null

# Credentials from PEARSANA_CLIENT_ID and PEARSANA_CLIENT_SECRET (or --client-id / --client-secret).
pearsana ping

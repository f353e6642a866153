# No credentials needed.
curl -fsS "${PEARSANA_API_URL:-https://sandbox.api.pearsana.com}/health"

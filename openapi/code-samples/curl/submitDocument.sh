# An access token from the client credentials grant (PEARSANA_CLIENT_ID / _SECRET).
TOKEN=$(curl -fsS -X POST "${PEARSANA_AUTH_URL:-https://sandbox.auth.pearsana.com}/oauth2/token" \
  -d grant_type=client_credentials \
  --data-urlencode "client_id=$PEARSANA_CLIENT_ID" \
  --data-urlencode "client_secret=$PEARSANA_CLIENT_SECRET" |
  sed -E 's/.*"access_token" *: *"([^"]+)".*/\1/')

# The file travels base64-encoded (here the 9 bytes "%PDF-1.4\n").
curl -fsS -X POST "${PEARSANA_API_URL:-https://sandbox.api.pearsana.com}/v1/documents:submit" \
  -H "Authorization: Bearer $TOKEN" \
  -H "X-API-Version: 2026-01-30" \
  -H "Content-Type: application/json" \
  -d '{
    "externalReference": {"namespace": "SIS", "externalId": "STU-2024-001"},
    "documentType": "OFFICIAL_TRANSCRIPT",
    "file": "JVBERi0xLjQK",
    "filename": "transcript.pdf"
  }'

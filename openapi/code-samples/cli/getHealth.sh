# Install: cargo install pearsana-cli. Hosts from --env / PEARSANA_API_URL; no credentials needed.
pearsana health

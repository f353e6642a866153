# One file: POST /v1/documents:submit.
pearsana documents submit --ref SIS:STU-2024-001 --type OFFICIAL_TRANSCRIPT transcript.pdf

# Several files go out as batches of up to 25: POST /v1/documents:submitBatch.
pearsana documents submit --ref SIS:STU-2024-001 --type OFFICIAL_TRANSCRIPT transcript.pdf diploma.pdf

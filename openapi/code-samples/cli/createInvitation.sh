pearsana invitations create --email john.doe@example.com --first-name John --last-name Doe \
  --ref SIS:STU-2024-002 --message "Welcome to Pearsana!"

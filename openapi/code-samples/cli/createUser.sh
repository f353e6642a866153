pearsana users create --email jane.smith@example.com --first-name Jane --last-name Smith \
  --role student --ref SIS:STU-2024-001
# Many users from a CSV roster, resumable: pearsana users import roster.csv --journal roster.journal

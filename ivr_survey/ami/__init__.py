"""Call history from Asterisk's Manager Interface (AMI) and from cdr_csv's Master.csv."""

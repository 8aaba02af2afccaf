"""E-mail from the portal: kept in an outbox the office reads, and sent through SMTP where one is configured."""

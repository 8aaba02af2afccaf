"""Backup and restore: a verified copy of everything the academy cannot rebuild (flask academy backup/restore)."""

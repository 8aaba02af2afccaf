"""Submissions: every file a trainee hands in, its receipt, its grading job and its result."""

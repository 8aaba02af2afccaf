"""Certificates of completion: the office's rule, issuing and revoking, the PDF, and public verification."""

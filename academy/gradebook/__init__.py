"""The portal's end of the grading services: hand-graded totals from the formgraders, the hub's list of
formgraders, and the service tokens those services carry (the grading worker itself is academy.grading)."""

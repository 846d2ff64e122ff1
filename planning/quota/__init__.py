"""Quota design: allocate a bookings target to reps, fairly and attainably."""

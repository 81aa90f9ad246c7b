"""Rentals: the LokaHome marketplace (seed 004) — listings, search, bookings without double booking, rent and
deposits held in escrow. See docs/rentals.md."""

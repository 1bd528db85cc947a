"""Call Manager compliance data platform."""

"""All SQL of chive-admin lives in this package."""

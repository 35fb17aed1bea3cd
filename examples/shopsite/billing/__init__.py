"""Invoices for orders; this app first ships in release 1.1.0."""

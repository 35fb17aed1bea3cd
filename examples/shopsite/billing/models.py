"""Billing models; the app first ships in release 1.1.0.

Its two migrations are squashed into 0001_squashed_0002_invoice_paid in 2.0.0.
"""

from django.db import models


class Invoice(models.Model):
    """The bill for one order."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT)  # 0001_initial
    amount = models.DecimalField(max_digits=10, decimal_places=2)  # 0001_initial
    issued_at = models.DateTimeField(auto_now_add=True)  # 0001_initial
    paid = models.BooleanField(default=False)  # 0002_invoice_paid

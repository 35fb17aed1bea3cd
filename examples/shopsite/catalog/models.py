"""Catalog models. Comments name the migration that introduced each field."""

from decimal import Decimal

from django.db import models


class Product(models.Model):
    """Something the shop sells."""

    name = models.CharField(max_length=100)  # 0001_initial
    # Stored upper case since 0005_backfill_uppercase_sku (2.0.0).
    sku = models.CharField(max_length=20)  # 0001_initial
    is_active = models.BooleanField(default=True)  # 0002_product_is_active
    # price and stock were developed on parallel branches (B and C, both 0003)
    # and joined by 0004_merge_product_price_stock in release 1.1.0.
    price = models.DecimalField(  # 0003_product_price
        max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    stock = models.PositiveIntegerField(default=0)  # 0003_product_stock

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

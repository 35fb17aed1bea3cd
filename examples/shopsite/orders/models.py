"""Order models. Comments name the migration that introduced or changed each field."""

from django.db import models


class Order(models.Model):
    """An order for some quantity of one product."""

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT)  # 0001_initial
    quantity = models.PositiveIntegerField(default=1)  # 0001_initial
    # NOT NULL in 1.0.0; nullable since 0003_alter_order_note_nullable (1.1.0).
    note = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)  # 0001_initial
    # True once `quantity` units were taken from Product.stock; its migration
    # therefore depends on catalog.0003_product_stock.
    stock_reserved = models.BooleanField(default=False)  # 0002_order_stock_reserved
    shipped_at = models.DateTimeField(null=True, blank=True)  # 0004_order_shipped_at
